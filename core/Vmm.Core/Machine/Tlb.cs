using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// A small direct-mapped software TLB of one address space: 64 entries of (page, leaf entry, size), only present
/// leaves. A host process caches virtual → frame; a VM's vCPUs cache gpa → frame through the EPT (tagged by
/// EPTP), where a zapped EPT entry stays usable until <see cref="Kvm"/> flushes it (kvm_flush_remote_tlbs).
/// Invalidation is what a shootdown does; the caller counts it. Allocation-free.
/// </summary>
internal sealed class Tlb
{
    private const int Size = 64;
    private readonly ulong[] _tags = new ulong[Size];
    private readonly ulong[] _entries = new ulong[Size];
    private readonly bool[] _huge = new bool[Size];

    private static int Slot(ulong vpn) => (int)(vpn & (Size - 1));

    public bool TryLookup(ulong va, out PteValue entry, out MappingSize size)
    {
        var vpn = va >> PageGeometry.PageShift;
        var slot = Slot(vpn);
        if (_tags[slot] == vpn + 1)
        {
            entry = new PteValue(_entries[slot]);
            size = _huge[slot] ? MappingSize.Size2M : MappingSize.Size4K;
            return true;
        }
        entry = PteValue.None;
        size = MappingSize.Size4K;
        return false;
    }

    /// <summary>Whether a lookup of <paramref name="va"/> would miss (no entry for its page), without changing anything.</summary>
    public bool Misses(ulong va)
    {
        var vpn = va >> PageGeometry.PageShift;
        return _tags[Slot(vpn)] != vpn + 1;
    }

    /// <summary>Whether the entry of <paramref name="va"/>'s page is exactly (<paramref name="entry"/>, <paramref name="size"/>).</summary>
    public bool Holds(ulong va, PteValue entry, MappingSize size)
    {
        var vpn = va >> PageGeometry.PageShift;
        var slot = Slot(vpn);
        return _tags[slot] == vpn + 1 && _entries[slot] == entry.Raw && _huge[slot] == (size == MappingSize.Size2M);
    }

    public void Insert(ulong va, PteValue entry, MappingSize size)
    {
        var vpn = va >> PageGeometry.PageShift;
        var slot = Slot(vpn);
        _tags[slot] = vpn + 1;
        _entries[slot] = entry.Raw;
        _huge[slot] = size == MappingSize.Size2M;
    }

    /// <summary>Drops every cached translation inside [va, va+bytes).</summary>
    public void Invalidate(ulong va, ulong bytes)
    {
        if (bytes > Size * (ulong)PageGeometry.PageSize)
        {
            FlushAll();
            return;
        }
        for (var a = va & ~(ulong)(PageGeometry.PageSize - 1); a < va + bytes; a += PageGeometry.PageSize)
        {
            var vpn = a >> PageGeometry.PageShift;
            var slot = Slot(vpn);
            if (_tags[slot] == vpn + 1) _tags[slot] = 0;
        }
    }

    public void FlushAll() => Array.Clear(_tags);
}
