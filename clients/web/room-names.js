// Calm, anonymous display-name suggestions ("Blue Heron"): a member needs no
// account and no real name. Chosen with the page's CSPRNG; nothing is kept.

const COLOURS = [
  "Blue", "Silver", "Amber", "Green", "Golden", "Misty", "Quiet", "Gentle", "Calm", "Soft",
  "Bright", "Still", "Warm", "Morning", "Evening", "Autumn", "Spring", "Summer", "Winter", "Olive",
  "Coral", "Indigo", "Sage", "Ivory", "Copper",
];

const NATURE = [
  "Heron", "River", "Willow", "Fern", "Harbour", "Meadow", "Sparrow", "Cedar", "Lake", "Brook",
  "Pebble", "Maple", "Birch", "Robin", "Wren", "Otter", "Finch", "Lantern", "Cloud", "Moss",
  "Hill", "Shore", "Tide", "Aspen", "Clover",
];

function pick(list) {
  const n = new Uint32Array(1);
  crypto.getRandomValues(n);
  return list[n[0] % list.length];
}

/** A suggestion different from `previous` (when given). @param {string} [previous] */
export function suggestName(previous) {
  for (;;) {
    const name = `${pick(COLOURS)} ${pick(NATURE)}`;
    if (name !== previous) return name;
  }
}
