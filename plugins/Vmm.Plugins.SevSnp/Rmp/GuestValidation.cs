using Vmm.Abstractions;

namespace Vmm.Plugins.SevSnp.Rmp;

/// <summary>
/// What each guest believes it has validated: the gfns it ran PVALIDATE on and has not rescinded (a Linux SNP guest
/// rescinds before it shares a page, __set_pages_state). The RMP's validated bit is the hardware's view; when the host
/// gives a gfn a new page behind the guest's back, the new entry is not validated but the guest does not know it must
/// validate again, so its next access takes a #VC (H16). Kept per ASID as 64-gfn masks, only where a guest validated.
/// </summary>
internal sealed class GuestValidation
{
    private readonly Dictionary<(ushort Asid, ulong Block), ulong> _masks = [];

    public int Blocks => _masks.Count;

    public bool Has(ushort asid, Gfn gfn) => _masks.TryGetValue((asid, gfn.Value >> 6), out var mask) && (mask & (1UL << (int)(gfn.Value & 63))) != 0;

    public void Add(ushort asid, Gfn gfn)
    {
        var key = (asid, gfn.Value >> 6);
        _masks.TryGetValue(key, out var mask);
        _masks[key] = mask | (1UL << (int)(gfn.Value & 63));
    }

    /// <summary>PVALIDATE with validated = 0 over [first, first+pages): costs the blocks the range meets or holds, whichever is fewer.</summary>
    public void Rescind(ushort asid, Gfn first, ulong pages)
    {
        if (pages == 0) return;
        var end = first.Value + pages;
        var firstBlock = first.Value >> 6;
        var lastBlock = (end - 1) >> 6;
        if (lastBlock - firstBlock + 1 <= (ulong)_masks.Count)
        {
            for (var block = firstBlock; block <= lastBlock; block++) Clear(asid, block, first.Value, end);
            return;
        }
        foreach (var (key, _) in _masks.ToList())
            if (key.Asid == asid && key.Block >= firstBlock && key.Block <= lastBlock) Clear(asid, key.Block, first.Value, end);
    }

    private void Clear(ushort asid, ulong block, ulong first, ulong end)
    {
        var key = (asid, block);
        if (!_masks.TryGetValue(key, out var mask)) return;
        var from = Math.Max(first, block << 6) - (block << 6);
        var to = Math.Min(end, (block + 1) << 6) - (block << 6);
        var window = to - from >= 64 ? ulong.MaxValue : ((1UL << (int)(to - from)) - 1) << (int)from;
        mask &= ~window;
        if (mask == 0) _masks.Remove(key);
        else _masks[key] = mask;
    }
}
