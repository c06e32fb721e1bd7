using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// The vCPUs' TLB for one VM's guest-physical translations (gpa → host frame through the EPT; the combined
/// mappings tagged by EPTP): 64 direct-mapped entries of (guest page, EPT leaf, size), only present leaves.
/// A zapped EPT entry stays usable here until <see cref="Kvm"/> flushes it (kvm_flush_remote_tlbs), which is the
/// window between an mmu-notifier zap and the flush. Allocation-free.
/// </summary>
internal sealed class EptTlb
{
    private const int Size = 64;
    private readonly ulong[] _tags = new ulong[Size];
    private readonly ulong[] _entries = new ulong[Size];
    private readonly bool[] _huge = new bool[Size];

    private static int Slot(ulong gfn) => (int)(gfn & (Size - 1));

    public bool TryLookup(ulong gpa, out PteValue entry, out MappingSize size)
    {
        var gfn = gpa >> PageGeometry.PageShift;
        var slot = Slot(gfn);
        if (_tags[slot] == gfn + 1)
        {
            entry = new PteValue(_entries[slot]);
            size = _huge[slot] ? MappingSize.Size2M : MappingSize.Size4K;
            return true;
        }
        entry = PteValue.None;
        size = MappingSize.Size4K;
        return false;
    }

    /// <summary>Caches the leaf that translates the 4 KiB guest page at <paramref name="gpa"/>.</summary>
    public void Insert(ulong gpa, PteValue entry, MappingSize size)
    {
        var gfn = gpa >> PageGeometry.PageShift;
        var slot = Slot(gfn);
        _tags[slot] = gfn + 1;
        _entries[slot] = entry.Raw;
        _huge[slot] = size == MappingSize.Size2M;
    }

    /// <summary>Drops every cached translation inside [gpa, gpa+bytes) (a ranged flush; a wide one flushes all).</summary>
    public void Invalidate(ulong gpa, ulong bytes)
    {
        if (bytes > Size * (ulong)PageGeometry.PageSize)
        {
            FlushAll();
            return;
        }
        for (var a = gpa & ~(ulong)(PageGeometry.PageSize - 1); a < gpa + bytes; a += PageGeometry.PageSize)
        {
            var gfn = a >> PageGeometry.PageShift;
            var slot = Slot(gfn);
            if (_tags[slot] == gfn + 1) _tags[slot] = 0;
        }
    }

    public void FlushAll() => Array.Clear(_tags);
}
