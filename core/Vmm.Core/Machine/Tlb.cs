using System.Runtime.CompilerServices;
using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>What <see cref="Tlb.Touch"/> found for a page whose current leaf the caller knows.</summary>
internal enum TlbTouch : byte
{
    /// <summary>The TLB holds that leaf: a hit.</summary>
    Hit,
    /// <summary>The TLB held nothing for the page: a miss, and the leaf is now cached as after a walk.</summary>
    Walked,
    /// <summary>The TLB holds another translation of the page (stale until a flush): the caller takes the full path.</summary>
    Other,
}

/// <summary>
/// A small direct-mapped software TLB of one address space: 64 entries of (page, leaf entry, size), only present
/// leaves. A host process caches virtual → frame; a VM's vCPUs cache gpa → frame through the EPT (tagged by
/// EPTP), where a zapped EPT entry stays usable until <see cref="Kvm"/> flushes it (kvm_flush_remote_tlbs).
/// Invalidation is what a shootdown does; the caller counts it. Allocation-free.
/// </summary>
internal sealed class Tlb
{
    private const int Size = 64;

    private struct Slot
    {
        /// <summary>The virtual page number + 1; 0 is empty.</summary>
        public ulong Tag;
        public ulong Entry;
        public bool Huge;
    }

    private readonly Slot[] _slots = new Slot[Size];

    private static int Index(ulong vpn) => (int)(vpn & (Size - 1));

    public bool TryLookup(ulong va, out PteValue entry, out MappingSize size)
    {
        var vpn = va >> PageGeometry.PageShift;
        ref var slot = ref _slots[Index(vpn)];
        if (slot.Tag == vpn + 1)
        {
            entry = new PteValue(slot.Entry);
            size = slot.Huge ? MappingSize.Size2M : MappingSize.Size4K;
            return true;
        }
        entry = PteValue.None;
        size = MappingSize.Size4K;
        return false;
    }

    /// <summary>
    /// The lookup of <paramref name="va"/> by a caller that knows the page's current leaf, as <see cref="TryLookup"/>
    /// then, on a miss, <see cref="Insert"/> of that leaf would do it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TlbTouch Touch(ulong va, ulong entry, bool huge)
    {
        var vpn = va >> PageGeometry.PageShift;
        ref var slot = ref _slots[Index(vpn)];
        if (slot.Tag != vpn + 1)
        {
            slot.Tag = vpn + 1;
            slot.Entry = entry;
            slot.Huge = huge;
            return TlbTouch.Walked;
        }
        return slot.Entry == entry && slot.Huge == huge ? TlbTouch.Hit : TlbTouch.Other;
    }

    public void Insert(ulong va, PteValue entry, MappingSize size)
    {
        var vpn = va >> PageGeometry.PageShift;
        ref var slot = ref _slots[Index(vpn)];
        slot.Tag = vpn + 1;
        slot.Entry = entry.Raw;
        slot.Huge = size == MappingSize.Size2M;
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
            ref var slot = ref _slots[Index(vpn)];
            if (slot.Tag == vpn + 1) slot.Tag = 0;
        }
    }

    public void FlushAll()
    {
        for (var i = 0; i < Size; i++) _slots[i].Tag = 0;
    }
}
