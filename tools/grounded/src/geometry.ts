// Shape outlines as polygons in a unit frame (centre 0,0; y down). One definition serves both the
// renderer (an SVG polygon) and the pixel classifier (rasterised templates), so the judge of generated
// images measures exactly the shapes the generator draws.

export type Point = readonly [number, number];

const ring = (n: number, radius: (i: number) => number, phase: number): Point[] =>
  Array.from({ length: n }, (_, i) => {
    const a = phase + (2 * Math.PI * i) / n;
    const r = radius(i);
    return [r * Math.cos(a), r * Math.sin(a)] as const;
  });

/** Areas roughly equal (≈ 2.2–3.1 in unit²), so size alone does not give the shape away. */
const OUTLINES: Record<string, Point[]> = {
  circle: ring(48, () => 0.95, 0),
  square: [
    [-0.85, -0.85],
    [0.85, -0.85],
    [0.85, 0.85],
    [-0.85, 0.85],
  ],
  // Equilateral, pointing up (y from -1.2 to 0.6 around its centroid), moved down by 0.3 so its
  // bounding box is centred: moved up, as it once was, a triangle at the top ran off the image.
  triangle: ring(3, () => 1.2, -Math.PI / 2).map(([x, y]) => [x, y + 0.3] as const),
  star: ring(10, (i) => (i % 2 === 0 ? 1.2 : 0.55), -Math.PI / 2).map(([x, y]) => [x, y + 0.1] as const),
};

/** The outline of `shape` at centre (cx, cy) with half-size `r` (pixels). */
export function outline(shape: string, cx: number, cy: number, r: number): Point[] {
  const unit = OUTLINES[shape];
  if (!unit) throw new Error(`no outline for shape "${shape}"`);
  return unit.map(([x, y]) => [cx + x * r, cy + y * r] as const);
}

export const SHAPE_IDS = Object.keys(OUTLINES);

/** Even-odd point-in-polygon test. */
export function inside(poly: readonly Point[], x: number, y: number): boolean {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

export function bounds(poly: readonly Point[]): { x0: number; y0: number; x1: number; y1: number } {
  const xs = poly.map((p) => p[0]);
  const ys = poly.map((p) => p[1]);
  return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
}
