/** Previous / next over a paged list of `total` rows, `size` at a time (nothing when one page holds all). */
export function Pager({
  offset,
  size,
  total,
  onOffset,
}: {
  offset: number;
  size: number;
  total: number;
  onOffset: (offset: number) => void;
}) {
  if (total <= size) return null;
  return (
    <div className="pager">
      <button disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - size))}>
        previous
      </button>
      <span>
        {offset + 1}–{Math.min(offset + size, total)} of {total}
      </span>
      <button disabled={offset + size >= total} onClick={() => onOffset(offset + size)}>
        next
      </button>
    </div>
  );
}
