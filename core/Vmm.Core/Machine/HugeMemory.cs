using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// mm/huge_memory.c and mm/khugepaged.c: splitting a PMD mapping or a whole THP, and collapsing a range into
/// one huge page, on the host's frames and page tables through <see cref="HostKernel"/>.
/// </summary>
internal sealed class HugeMemory
{
    private readonly HostKernel _kernel;
    private readonly List<RmapEntry> _rmapScratch = [];
    /// <summary>Where a PMD marker (T3) was made, by compound head: markers leave the rmap, so split_huge_page looks there in every process (fork copies them at the same address).</summary>
    private readonly Dictionary<ulong, ulong> _pmdMarkers = [];

    public HugeMemory(HostKernel kernel) => _kernel = kernel;

    private FrameTable Frames => _kernel.Mm.Frames;

    public bool IsHugeMapped(int pid, Hva hva)
    {
        var p = _kernel.FindProcess(pid);
        if (p is null) return false;
        var entry = p.PageTable.Lookup(hva.Value, out var size);
        return size == MappingSize.Size2M && entry.IsPresent;
    }

    public bool SplitHugePmd(int pid, Hva hva)
    {
        var p = _kernel.FindProcess(pid);
        return p is not null && SplitHugePmdAt(p, hva.Value & ~(PageGeometry.HugeSize - 1));
    }

    /// <summary>split_huge_pmd: one process's 2 MiB leaf becomes 512 PTEs to the same (still compound) page.</summary>
    internal bool SplitHugePmdAt(Process p, ulong hugeVa)
    {
        hugeVa &= ~(PageGeometry.HugeSize - 1);
        var entry = p.PageTable.Lookup(hugeVa, out var size);
        if (size != MappingSize.Size2M || !entry.MapsFrame) return false;
        var head = entry.Pfn;
        if (Frames.Has(head, FrameFlags.Hugetlb)) return false; // hugetlb mappings are never split
        p.PageTable.Set(hugeVa, PteValue.None, MappingSize.Size2M);
        _kernel.Mm.Rmap.Remove(head, p.Pid, hugeVa);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            _kernel.Mm.MapFrame(p, new Hva(hugeVa + (ulong)i * PageGeometry.PageSize), head.Add(i), MappingSize.Size4K, entry.IsWritable, entry.IsProtNone);
        _kernel.Mm.PutPage(head); // the PMD's reference
        _kernel.Mm.ShootDown(p, new Hva(hugeVa), PageGeometry.HugeSize);
        _kernel.CostLedger.Add(CostKind.ThpSplit);
        return true;
    }

    /// <summary>
    /// split_huge_page: split every PMD mapping, then break the compound page into 512 base pages.
    /// Fails (EBUSY) when anything beyond the mappings and the caller's one reference (on <paramref name="pfn"/>)
    /// holds the page: a pin, another GUP reference.
    /// </summary>
    public bool SplitHugePage(Pfn pfn)
    {
        var head = _kernel.Mm.Head(pfn);
        if (!Frames.Has(head, FrameFlags.Compound)) return true;
        if (Frames.Has(head, FrameFlags.Hugetlb)) return false;
        // A PMD marker names the compound page: it becomes PTEs before the page can become base pages.
        if (_pmdMarkers.Remove(head.Value, out var markerVa))
            foreach (var owner in _kernel.Processes)
                if (owner.Alive && IsPmdMarker(owner, markerVa, head)) RemapPmdMarker(owner, markerVa);
        var expected = 0;
        var pmdMappings = 0;
        _rmapScratch.Clear();
        _kernel.Mm.Rmap.Collect(head, _rmapScratch);
        foreach (var e in _rmapScratch)
            if (e.Size == MappingSize.Size2M) pmdMappings++;
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            expected += Frames.MapCountOf(head.Add(i)) + Frames.HwpEntryRefsOf(head.Add(i));
        // can_split_folio: besides the mappings, only the caller's own reference (on pfn) may be held.
        var callerRefs = Frames.RefCountOf(head) - (expected + pmdMappings);
        if (Frames.PinCountOf(head) > 0 || callerRefs is < 0 or > 1)
        {
            _kernel.CostLedger.Add(CostKind.ThpSplitFailed);
            return false;
        }
        foreach (var e in _rmapScratch.ToArray())
        {
            if (e.Size != MappingSize.Size2M) continue;
            var p = _kernel.FindProcess(e.Pid);
            if (p is not null) SplitHugePmdAt(p, e.Va);
        }
        var refs = new int[PageGeometry.PagesPerHuge];
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            refs[i] = Frames.MapCountOf(head.Add(i)) + Frames.HwpEntryRefsOf(head.Add(i));
        refs[pfn.Value - head.Value] += callerRefs;
        var headFlags = Frames.Flags(head);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            var sub = head.Add(i);
            Frames.ClearFlags(sub, FrameFlags.Compound | FrameFlags.HasHwPoisoned);
            Frames.SetRefCount(sub, refs[i]);
        }
        if ((headFlags & FrameFlags.HasHwPoisoned) != 0) Frames.ClearFlags(head, FrameFlags.HasHwPoisoned);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            if (refs[i] != 0) continue;
            // An unmapped subpage of the old THP is free now.
            Frames.SetRefCount(head.Add(i), 1);
            _kernel.Mm.PutPage(head.Add(i));
        }
        _kernel.CostLedger.Add(CostKind.ThpSplit);
        return true;
    }

    /// <summary>
    /// khugepaged / MADV_COLLAPSE over the 2 MiB range at <paramref name="va"/>: refused (EINVAL,
    /// SCAN_PTE_NON_PRESENT) when any entry is a swap or hwpoison entry (K25), or a subpage holds poison.
    /// </summary>
    internal Errno Collapse(Process p, ulong va)
    {
        var start = va & ~(PageGeometry.HugeSize - 1);
        var vma = p.FindVma(start);
        if (vma is null || vma.Kind != VmaKind.Anon || start < vma.Start || start + PageGeometry.HugeSize > vma.End || vma.NoHugePage) return Errno.EINVAL;
        var existing = p.PageTable.Lookup(start, out var existingSize);
        if (existingSize == MappingSize.Size2M && existing.IsPresent) return 0;
        var refuse = false;
        var leaves = new List<(ulong Va, PteValue Entry)>();
        p.PageTable.Visit(start, start + PageGeometry.HugeSize, (leafVa, entry, _) =>
        {
            if (entry.IsSwap || entry.IsProtNone || (entry.IsPresent && Frames.PinCountOf(_kernel.Mm.Head(entry.Pfn)) > 0))
            {
                refuse = true;
                return false;
            }
            leaves.Add((leafVa, entry));
            return true;
        });
        if (refuse) return Errno.EINVAL;
        foreach (var (_, entry) in leaves)
        {
            if (entry.Pfn == FrameAllocator.ZeroPage) continue;
            if (_kernel.Memory.PoisonedLineCount(entry.Pfn) > 0 || Frames.Has(entry.Pfn, FrameFlags.HwPoison))
            {
                // v6.3+ copies with copy_mc and fails (SCAN_COPY_MC); earlier kernels consumed the poison.
                if (_kernel.Version.AtLeast(6, 3)) return Errno.EINVAL;
                _kernel.Raise(KernelEvent.Of(KernelEventKind.HostPanic, $"khugepaged consumed poison in {entry.Pfn}"));
                return 0;
            }
        }
        var head = _kernel.Mm.Allocator.AllocateHuge();
        if (!head.IsValid) return Errno.ENOMEM;
        _kernel.CostLedger.Add(CostKind.FrameAlloc);
        foreach (var (leafVa, entry) in leaves)
        {
            var source = _kernel.Mm.PhysicalMemory.Peek(entry.Pfn);
            var index = (long)((leafVa - start) >> PageGeometry.PageShift);
            if (!source.IsEmpty) source.CopyTo(_kernel.Mm.PhysicalMemory.Materialize(head.Add(index)));
            _kernel.CostLedger.Add(CostKind.PageCopy);
            _kernel.Mm.ZapEntry(p, new Hva(leafVa), entry, MappingSize.Size4K);
        }
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++) Frames.SetFlags(head.Add(i), FrameFlags.SwapBacked | FrameFlags.Dirty);
        _kernel.Mm.MapFrame(p, new Hva(start), head, MappingSize.Size2M, writable: true);
        _kernel.Mm.ShootDown(p, new Hva(start), PageGeometry.HugeSize);
        _kernel.MmuNotifier.InvalidateRange(p, new Hva(start), new Hva(start + PageGeometry.HugeSize));
        _kernel.CostLedger.Add(CostKind.ThpCollapse);
        return 0;
    }

    /// <summary>
    /// T3's PMD-level hwpoison marker: the present THP PMD is replaced by a non-present 2 MiB hwpoison entry that
    /// keeps the PMD's reference, so the whole range is unmapped as one unit and faults on it report lsb 21
    /// (VM_FAULT_HWPOISON_LARGE). Linux has this only for hugetlb; a THP would need a PMD swap-entry type.
    /// </summary>
    internal bool PoisonHugePmd(Process p, Hva hva)
    {
        var hugeVa = hva.Value & ~(PageGeometry.HugeSize - 1);
        var entry = p.PageTable.Lookup(hugeVa, out var size);
        if (size != MappingSize.Size2M || !entry.MapsFrame) return false;
        var head = entry.Pfn;
        if (Frames.Has(head, FrameFlags.Hugetlb)) return false;
        if (entry.IsDirty || entry.IsWritable) Frames.SetFlags(head, FrameFlags.Dirty);
        p.PageTable.Set(hugeVa, PteValue.HwPoisonEntry(head), MappingSize.Size2M);
        _kernel.Mm.Rmap.Remove(head, p.Pid, hugeVa);
        Frames.HwpEntryRefs(head)++; // the PMD's reference moves to the marker
        _pmdMarkers[head.Value] = hugeVa;
        _kernel.CostLedger.Add(CostKind.Unmap);
        _kernel.Mm.ShootDown(p, new Hva(hugeVa), PageGeometry.HugeSize);
        _kernel.MmuNotifier.InvalidateRange(p, new Hva(hugeVa), new Hva(hugeVa + PageGeometry.HugeSize));
        return true;
    }

    private bool IsPmdMarker(Process p, ulong hugeVa, Pfn head)
    {
        var entry = p.PageTable.Lookup(hugeVa, out var size);
        return size == MappingSize.Size2M && entry.IsHwPoison && entry.SwapPfn == head && !Frames.Has(head, FrameFlags.Hugetlb);
    }

    /// <summary>True when <paramref name="entry"/>, a 2 MiB hwpoison entry, is a THP's PMD marker rather than hugetlb's (K2).</summary>
    internal bool IsPmdMarker(PteValue entry) => entry.IsHwPoison && !Frames.Has(entry.SwapPfn, FrameFlags.Hugetlb);

    /// <summary>
    /// A touch of a page that is no longer poisoned under a PMD marker (the guest shared it): the marker becomes a
    /// PTE table (one page-table page, 512 entries; counted as a split), a hwpoison entry for each frame still
    /// PG_hwpoison and a present PTE for the others, so only the shared part comes back.
    /// </summary>
    internal void RemapPmdMarker(Process p, ulong va)
    {
        var hugeVa = va & ~(PageGeometry.HugeSize - 1);
        var marker = p.PageTable.Lookup(hugeVa, out var size);
        if (size != MappingSize.Size2M || !marker.IsHwPoison) return;
        var head = marker.SwapPfn;
        var vma = p.FindVma(hugeVa);
        // A fork copied the marker: pages another process may map come back read-only, so a write copies (COW).
        var exclusive = Frames.HwpEntryRefsOf(head) == 1;
        p.PageTable.Set(hugeVa, PteValue.None, MappingSize.Size2M);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            var sub = head.Add(i);
            var subVa = hugeVa + (ulong)i * PageGeometry.PageSize;
            if (Frames.Has(sub, FrameFlags.HwPoison))
            {
                p.PageTable.Set(subVa, PteValue.HwPoisonEntry(sub), MappingSize.Size4K);
                Frames.HwpEntryRefs(sub)++;
                _kernel.Mm.GetPage(sub);
            }
            else
            {
                var writable = vma is { Writable: true } && (vma.Shared || (exclusive && Frames.MapCountOf(sub) == 0));
                _kernel.Mm.MapFrame(p, new Hva(subVa), sub, MappingSize.Size4K, writable);
            }
        }
        Frames.HwpEntryRefs(head)--;
        _kernel.Mm.PutPage(head); // the marker's reference
        _kernel.CostLedger.Add(CostKind.ThpSplit);
    }

    /// <summary>
    /// collapse_pte_mapped_thp for an anonymous THP that is still one compound page: when the range's 512 entries
    /// map its subpages in order and none is PG_hwpoison, one PMD replaces them; no copy, one page-table page freed.
    /// Stale hwpoison entries of frames the guest shared again are dropped with the rest.
    /// </summary>
    internal bool RemapHugePmd(Process p, Hva hva)
    {
        var hugeVa = hva.Value & ~(PageGeometry.HugeSize - 1);
        var vma = p.FindVma(hugeVa);
        if (vma is null || vma.Kind != VmaKind.Anon || hugeVa < vma.Start || hugeVa + PageGeometry.HugeSize > vma.End || vma.NoHugePage) return false;
        if (RangeState(p, hva, out var head) != HugeRangeState.PteMapped) return false;
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            if (Frames.Has(head.Add(i), FrameFlags.HwPoison)) return false;
        _kernel.Mm.GetPage(head); // hold the page while its entries go
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            var subVa = hugeVa + (ulong)i * PageGeometry.PageSize;
            _kernel.Mm.ZapEntry(p, new Hva(subVa), p.PageTable.Lookup(subVa, out _), MappingSize.Size4K);
        }
        _kernel.Mm.MapFrame(p, new Hva(hugeVa), head, MappingSize.Size2M, vma.Writable, vma.ProtNone);
        _kernel.Mm.PutPage(head);
        _kernel.Mm.ShootDown(p, new Hva(hugeVa), PageGeometry.HugeSize);
        _kernel.MmuNotifier.InvalidateRange(p, new Hva(hugeVa), new Hva(hugeVa + PageGeometry.HugeSize));
        _kernel.CostLedger.Add(CostKind.ThpPmdRemap);
        return true;
    }

    internal HugeRangeState RangeState(Process p, Hva hva) => RangeState(p, hva, out _);

    private HugeRangeState RangeState(Process p, Hva hva, out Pfn head)
    {
        head = Pfn.Invalid;
        var hugeVa = hva.Value & ~(PageGeometry.HugeSize - 1);
        var entry = p.PageTable.Lookup(hugeVa, out var size);
        if (size == MappingSize.Size2M)
        {
            if (entry.IsPresent) return HugeRangeState.PmdMapped;
            return IsPmdMarker(entry) ? HugeRangeState.PmdMarker : HugeRangeState.Other;
        }
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            var e = i == 0 ? entry : p.PageTable.Lookup(hugeVa + (ulong)i * PageGeometry.PageSize, out size);
            var pfn = e.MapsFrame ? e.Pfn : e.IsHwPoison ? e.SwapPfn : Pfn.Invalid;
            if (size != MappingSize.Size4K || !pfn.IsValid) return HugeRangeState.Other;
            if (i == 0)
            {
                if (!Frames.Has(pfn, FrameFlags.Compound) || _kernel.Mm.Head(pfn) != pfn || Frames.Has(pfn, FrameFlags.Hugetlb)) return HugeRangeState.Other;
                head = pfn;
            }
            else if (pfn != head.Add(i)) return HugeRangeState.Other;
        }
        return HugeRangeState.PteMapped;
    }
}
