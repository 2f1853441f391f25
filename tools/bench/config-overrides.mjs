// `key=value` command-line arguments onto a trainer config object: `training.lr=0.002` sets
// raw.training.lr (numbers and true/false parsed, anything else a string). Shared by the benches that
// tune configs (trainer-quality, grounded).
export function applyKeyValues(raw, args) {
  for (const kv of args) {
    const at = kv.indexOf("=");
    if (at < 1) throw new Error(`"${kv}" is not key=value (e.g. training.lr=0.002)`);
    const keys = kv.slice(0, at).split(".");
    const v = kv.slice(at + 1);
    let o = raw;
    for (const key of keys.slice(0, -1)) o = o[key] ??= {};
    o[keys.at(-1)] = v === "true" ? true : v === "false" ? false : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return raw;
}
