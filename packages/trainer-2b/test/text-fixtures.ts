import fs from "node:fs";
import { fixturePath } from "@laion/test-servers";

const FALLBACK = [
  "ශ්‍රී ලංකාව දකුණු ආසියාවේ දූපත් රාජ්‍යයකි.",
  "කොළඹ ශ්‍රී ලංකාවේ විශාලතම නගරය වේ.",
  "මම ගෙදර යනවා. ඔබ කොහෙද යන්නේ?",
  "A photo of a dog running on the beach.",
  "A red car parked next to a tree.",
  "ලංකාවේ කඳුකරයේ තේ වගාව ප්‍රසිද්ධයි.",
];

/** Lines of the real Sinhala corpus fixture when present, else a few built-in sentences. */
export function sinhalaSample(maxLines = 400): string[] {
  const file = fixturePath("sinhala", "corpus.txt");
  if (fs.existsSync(file)) {
    const lines = fs
      .readFileSync(file, "utf8")
      .split(/\n/)
      .filter((l) => l.trim());
    if (lines.length) return lines.slice(0, maxLines).concat(FALLBACK.slice(3, 5));
  }
  return FALLBACK.concat(FALLBACK, FALLBACK);
}
