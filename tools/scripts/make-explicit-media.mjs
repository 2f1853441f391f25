import fs from "node:fs";
import sharp from "sharp";

// Derived from the img2dataset test photos (MIT): the "user's own" captioned images for tests and the demo.
const src = "fixtures/images/originals";
const out = "fixtures/explicit_media";
fs.mkdirSync(`${out}/photos`, { recursive: true });
const items = [
  ["123_456.jpg", "kitten", "පූසා පැටියෙක් කැමරාව දෙස බලා සිටී", "A kitten looking at the camera"],
  ["208_495.jpg", "boardwalk", "මුහුදු වෙරළට යන ලී පාලමක්", "A wooden walkway leading to the beach"],
  ["321_421.jpg", "palms", "නිල් අහසට එරෙහිව පොල් ගස්", "Palm trees against a blue sky"],
  ["389_535.jpg", "motel", "නිල් අහස යට පැරණි මෝටල් පුවරුවක්", "An old motel sign under a blue sky"],
  ["416_264.jpg", "succulents", "ඉහළ සිට පෙනෙන කොළ පැහැති ශාක පඳුරක්", "Green succulent plants seen from above"],
  ["456_123.jpg", "kitten_cup", "කෝප්පයක් අසල සැඟවී සිටින පූසා පැටියෙක්", "A kitten peeking out next to a cup"],
  [
    "524_316.jpg",
    "church",
    "ගොඩනැගිලි අතරින් පෙනෙන නිල් අහස සහ පල්ලිය",
    "Blue sky and a church seen between buildings",
  ],
];
const captions = [];
for (const [file, name, si, en] of items) {
  const img = sharp(`${src}/${file}`);
  await img.clone().jpeg({ quality: 90 }).toFile(`${out}/photos/${name}.jpg`);
  await img
    .clone()
    .flop()
    .resize(160, 160, { fit: "cover" })
    .jpeg({ quality: 90 })
    .toFile(`${out}/photos/${name}_crop.jpg`);
  captions.push({ image: `photos/${name}.jpg`, caption: si });
  captions.push({ image: `photos/${name}_crop.jpg`, caption: `${si} (${en.toLowerCase()})` });
}
fs.writeFileSync(`${out}/captions.json`, JSON.stringify(captions, null, 2) + "\n");
