using Vmm.Abstractions;

namespace Vmm.Core.Machine;

internal sealed partial class HostKernel
{
    public bool IsHugeMapped(int pid, Hva hva)
    {
        var p = FindProcess(pid);
        if (p is null) return false;
        var entry = p.PageTable.Lookup(hva.Value, out var size);
        return size == MappingSize.Size2M && entry.IsPresent;
    }

    public bool SplitHugePmd(int pid, Hva hva)
    {
        var p = FindProcess(pid);
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
        Rmap.Remove(head, p.Pid, hugeVa);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            MapFrame(p, hugeVa + (ulong)i * PageGeometry.PageSize, head.Add(i), MappingSize.Size4K, entry.IsWritable, entry.IsProtNone);
        PutPage(head); // the PMD's reference
        ShootDown(p, hugeVa, PageGeometry.HugeSize);
        CostLedger.Add(CostKind.ThpSplit);
        return true;
    }

    /// <summary>
    /// split_huge_page: split every PMD mapping, then break the compound page into 512 base pages.
    /// Fails (EBUSY) when anything beyond the mappings and the caller's one reference (on <paramref name="pfn"/>)
    /// holds the page: a pin, another GUP reference.
    /// </summary>
    public bool SplitHugePage(Pfn pfn)
    {
        var head = Head(pfn);
        if (!Frames.Has(head, FrameFlags.Compound)) return true;
        if (Frames.Has(head, FrameFlags.Hugetlb)) return false;
        var expected = 0;
        var pmdMappings = 0;
        _rmapScratch.Clear();
        Rmap.Collect(head, _rmapScratch);
        foreach (var e in _rmapScratch)
            if (e.Size == MappingSize.Size2M) pmdMappings++;
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            expected += Frames.MapCountOf(head.Add(i)) + Frames.HwpEntryRefsOf(head.Add(i));
        // can_split_folio: besides the mappings, only the caller's own reference (on pfn) may be held.
        var callerRefs = Frames.RefCountOf(head) - (expected + pmdMappings);
        if (Frames.PinCountOf(head) > 0 || callerRefs is < 0 or > 1)
        {
            CostLedger.Add(CostKind.ThpSplitFailed);
            return false;
        }
        foreach (var e in _rmapScratch.ToArray())
        {
            if (e.Size != MappingSize.Size2M) continue;
            var p = FindProcess(e.Pid);
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
            Frames.RefCount(sub) = refs[i];
        }
        if ((headFlags & FrameFlags.HasHwPoisoned) != 0) Frames.ClearFlags(head, FrameFlags.HasHwPoisoned);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            if (refs[i] != 0) continue;
            // An unmapped subpage of the old THP is free now.
            Frames.RefCount(head.Add(i)) = 1;
            PutPage(head.Add(i));
        }
        CostLedger.Add(CostKind.ThpSplit);
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
            if (entry.IsSwap || entry.IsProtNone || (entry.IsPresent && Frames.PinCountOf(Head(entry.Pfn)) > 0))
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
            if (Memory.PoisonedLineCount(entry.Pfn) > 0 || Frames.Has(entry.Pfn, FrameFlags.HwPoison))
            {
                // v6.3+ copies with copy_mc and fails (SCAN_COPY_MC); earlier kernels consumed the poison.
                if (Version.AtLeast(6, 3)) return Errno.EINVAL;
                Raise(KernelEvent.Of(KernelEventKind.HostPanic, $"khugepaged consumed poison in {entry.Pfn}"));
                return 0;
            }
        }
        var head = Allocator.AllocateHuge();
        if (!head.IsValid) return Errno.ENOMEM;
        CostLedger.Add(CostKind.FrameAlloc);
        foreach (var (leafVa, entry) in leaves)
        {
            var source = PhysicalMemory.Peek(entry.Pfn);
            var index = (long)((leafVa - start) >> PageGeometry.PageShift);
            if (!source.IsEmpty) source.CopyTo(PhysicalMemory.Materialize(head.Add(index)));
            CostLedger.Add(CostKind.PageCopy);
            ZapEntry(p, leafVa, entry, MappingSize.Size4K);
        }
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++) Frames.SetFlags(head.Add(i), FrameFlags.SwapBacked | FrameFlags.Dirty);
        MapFrame(p, start, head, MappingSize.Size2M, writable: true);
        ShootDown(p, start, PageGeometry.HugeSize);
        MmuNotifier.InvalidateRange(p, new Hva(start), new Hva(start + PageGeometry.HugeSize));
        CostLedger.Add(CostKind.ThpCollapse);
        return 0;
    }
}
