namespace Vmm.Plugins.HwPoison;

/// <summary>
/// kvm->shared_ranges of the RFC: at most <see cref="Capacity"/> merged [start, end) gfn ranges per VM
/// (KVM_NR_SHARED_RANGES = 32). Adding past the capacity fails and the caller warns.
/// </summary>
internal sealed class SharedRanges(int capacity)
{
    private readonly List<(ulong Start, ulong End)> _ranges = [];

    public int Capacity { get; } = capacity;
    public int Count => _ranges.Count;

    public bool Contains(ulong gfn)
    {
        foreach (var (start, end) in _ranges)
            if (gfn >= start && gfn < end) return true;
        return false;
    }

    /// <summary>Adds [start, end), merging with touching or overlapping ranges; false when a new slot was needed and none is left.</summary>
    public bool Add(ulong start, ulong end)
    {
        for (var i = 0; i < _ranges.Count; i++)
        {
            var (s, e) = _ranges[i];
            if (end < s || start > e) continue;
            _ranges.RemoveAt(i);
            return Add(Math.Min(s, start), Math.Max(e, end));
        }
        if (_ranges.Count >= Capacity) return false;
        var at = 0;
        while (at < _ranges.Count && _ranges[at].Start <= start) at++;
        _ranges.Insert(at, (start, end));
        return true;
    }

    /// <summary>Removes [start, end) from the ranges (v2: converting back to private).</summary>
    public void Remove(ulong start, ulong end)
    {
        for (var i = 0; i < _ranges.Count; i++)
        {
            var (s, e) = _ranges[i];
            if (end <= s || start >= e) continue;
            _ranges.RemoveAt(i);
            if (e > end) _ranges.Insert(i, (end, e));
            if (s < start) _ranges.Insert(i, (s, start));
            i--;
        }
    }
}
