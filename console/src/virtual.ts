// Which rows of a long list of fixed-height rows to render: those in view, and a few either side.
export interface Window {
  first: number;
  last: number; // exclusive
  offset: number; // px from the top to the first rendered row
  height: number; // px of the whole list
}

export function visibleRows(count: number, rowHeight: number, scrollTop: number, viewport: number, overscan = 6): Window {
  const height = count * rowHeight;
  if (count === 0 || rowHeight <= 0) return { first: 0, last: 0, offset: 0, height };
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, height - viewport));
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((top + Math.max(0, viewport)) / rowHeight) + overscan);
  return { first, last, offset: first * rowHeight, height };
}
