namespace Vmm.Core.Machine;

/// <summary>
/// A set of gfns kept as sorted, disjoint, non-touching [start, end) ranges (KVM's mem_attr_array, stored
/// by range): adding or removing a range costs the ranges it meets, whatever its size, and a lookup is a
/// binary search. Any gfn below 2^64 may be named, inside a memslot or not.
/// </summary>
internal sealed class GfnRangeSet
{
    private readonly List<(ulong Start, ulong End)> _ranges = [];

    public int Count => _ranges.Count;

    public IReadOnlyList<(ulong Start, ulong End)> Ranges => _ranges;

    public bool Contains(ulong gfn)
    {
        var at = FirstEndingAfter(gfn);
        return at < _ranges.Count && _ranges[at].Start <= gfn;
    }

    /// <summary>Whether any gfn of [start, end) is in the set.</summary>
    public bool Overlaps(ulong start, ulong end)
    {
        if (start >= end) return false;
        var at = FirstEndingAfter(start);
        return at < _ranges.Count && _ranges[at].Start < end;
    }

    /// <summary>Whether every gfn of [start, end) is in the set (ranges never touch, so one range holds them all).</summary>
    public bool Covers(ulong start, ulong end)
    {
        if (start >= end) return true;
        var at = FirstEndingAfter(start);
        return at < _ranges.Count && _ranges[at].Start <= start && _ranges[at].End >= end;
    }

    /// <summary>Adds [start, end), merging it with every range it overlaps or touches.</summary>
    public void Add(ulong start, ulong end)
    {
        if (start >= end) return;
        // The first range that ends at or after start touches or overlaps the new one, or lies beyond it.
        var at = start == 0 ? 0 : FirstEndingAfter(start - 1);
        var last = at;
        while (last < _ranges.Count && _ranges[last].Start <= end)
        {
            start = Math.Min(start, _ranges[last].Start);
            end = Math.Max(end, _ranges[last].End);
            last++;
        }
        _ranges.RemoveRange(at, last - at);
        _ranges.Insert(at, (start, end));
    }

    /// <summary>Removes [start, end): ranges inside it go, ranges across its edges are cut.</summary>
    public void Remove(ulong start, ulong end)
    {
        if (start >= end) return;
        var at = FirstEndingAfter(start);
        var last = at;
        while (last < _ranges.Count && _ranges[last].Start < end) last++;
        if (at == last) return;
        var head = _ranges[at];
        var tail = _ranges[last - 1];
        _ranges.RemoveRange(at, last - at);
        if (tail.End > end) _ranges.Insert(at, (end, tail.End));
        if (head.Start < start) _ranges.Insert(at, (head.Start, start));
    }

    /// <summary>Index of the first range whose End is greater than <paramref name="gfn"/> (Count when none).</summary>
    private int FirstEndingAfter(ulong gfn)
    {
        int lo = 0, hi = _ranges.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_ranges[mid].End > gfn) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }
}
