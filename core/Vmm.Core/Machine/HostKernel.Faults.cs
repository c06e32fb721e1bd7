using Vmm.Abstractions;

namespace Vmm.Core.Machine;

internal sealed partial class HostKernel
{
    /// <summary>The frame a leaf maps at <paramref name="va"/> (a subpage of a 2 MiB leaf).</summary>
    internal static Pfn LeafPfn(PteValue entry, MappingSize size, ulong va)
        => size == MappingSize.Size2M ? entry.Pfn.Add((long)((va >> PageGeometry.PageShift) & (PageGeometry.PagesPerHuge - 1))) : entry.Pfn;

    /// <summary>
    /// Translation for a user load/store: TLB, then a walk, then the fault handler. Allocation-free when
    /// the translation is cached or present.
    /// </summary>
    internal VmFault TranslateUser(Process p, ulong va, bool write, out Pfn pfn)
    {
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (p.Tlb.TryLookup(va, out var cached, out var cachedSize) && (!write || cached.IsWritable))
            {
                CostLedger.Add(CostKind.TlbHit);
                pfn = LeafPfn(cached, cachedSize, va);
                return VmFault.Ok;
            }
            CostLedger.Add(CostKind.TlbMiss);
            CostLedger.Add(CostKind.PageWalk);
            var entry = p.PageTable.Lookup(va, out var size);
            if (entry.IsPresent && (!write || entry.IsWritable))
            {
                p.Tlb.Insert(va, entry, size);
                pfn = LeafPfn(entry, size, va);
                return VmFault.Ok;
            }
            var fault = HandleMmFault(p, va, write, GupFlags.None, entry, size, out pfn);
            if (fault != VmFault.Ok) return fault;
        }
        pfn = Pfn.Invalid;
        return VmFault.SigBus;
    }

    /// <summary>
    /// handle_mm_fault: make the page at <paramref name="va"/> present, or say why it cannot be. A user page
    /// the allocator cannot find means the OOM killer chose the faulting process (an order-0 allocation
    /// fails only for the OOM victim), so VM_FAULT_OOM comes with its SIGKILL whoever asked: a load or
    /// store, GUP for KVM or a syscall, copy_to_user. <paramref name="entry"/> is the leaf the caller's walk found
    /// at <paramref name="va"/> (of <paramref name="size"/>), so the fault does not walk the table again.
    /// </summary>
    internal VmFault HandleMmFault(Process p, ulong va, bool write, GupFlags flags, PteValue entry, MappingSize size, out Pfn allowed)
    {
        var fault = HandleMmFaultCore(p, va, write, flags, entry, size, out allowed);
        if (fault == VmFault.Oom) OomKill(p, va);
        return fault;
    }

    /// <summary>out_of_memory → oom_kill_process: SIGKILL to the victim (the process whose fault could not be served).</summary>
    private void OomKill(Process p, ulong va) => Raise(OomKillEvent(p, va));

    private static KernelEvent OomKillEvent(Process p, ulong va)
        => new(KernelEventKind.SigKill, p.Pid, default, new Hva(va), 0, SignalContext.Async, default, "out of memory: the OOM killer chose this process");

    private VmFault HandleMmFaultCore(Process p, ulong va, bool write, GupFlags flags, PteValue entry, MappingSize size, out Pfn allowed)
    {
        allowed = Pfn.Invalid;
        CostLedger.Add(CostKind.PageFault);
        var vma = p.FindVma(va);
        if (vma is null) return VmFault.SigSegv;
        if (write && !vma.Writable) return VmFault.SigSegv;
        if (vma.ProtNone && (flags & GupFlags.AllowPoisoned) == 0) return VmFault.SigBus;
        if (entry.IsProtNone) return (flags & GupFlags.AllowPoisoned) != 0 ? VmFault.Ok : VmFault.SigBus;
        if (entry.IsSwap)
        {
            if (!entry.IsHwPoison) return VmFault.SigBus; // an unknown or stale entry: print_bad_pte, VM_FAULT_SIGBUS
            var pfn = entry.SwapPfn;
            var subpage = size == MappingSize.Size2M ? LeafPfn(PteValue.Leaf(pfn, false, size), size, va) : pfn;
            switch (HwPoisonEntryPolicy.OnHwPoisonEntry(new HwPoisonEntry(p.Pid, new Hva(va & ~(ulong)(PageGeometry.PageSize - 1)), subpage, flags)))
            {
                case HwPoisonEntryAction.Rebuild:
                    RebuildFromHwPoisonEntry(p, vma, va, entry, size);
                    return VmFault.Ok;
                case HwPoisonEntryAction.Allow:
                    allowed = subpage;
                    return VmFault.Allowed;
                default:
                    return size == MappingSize.Size2M ? VmFault.HwPoisonLarge : VmFault.HwPoison;
            }
        }
        if (entry.IsPresent)
        {
            if (write && !entry.IsWritable) return DoWpPage(p, vma, va, entry, size);
            return VmFault.Ok;
        }
        return DoFault(p, vma, va, write);
    }

    private void RebuildFromHwPoisonEntry(Process p, Vma vma, ulong va, PteValue entry, MappingSize size)
    {
        var pfn = entry.SwapPfn;
        var leafVa = size == MappingSize.Size2M ? va & ~(PageGeometry.HugeSize - 1) : va & ~(ulong)(PageGeometry.PageSize - 1);
        p.PageTable.Set(leafVa, PteValue.None, size);
        var heldRef = Frames.HwpEntryRefsOf(pfn) > 0;
        // mk_pte(page, vma->vm_page_prot): a MAP_PRIVATE mapping gets no write bit, so a write goes through
        // do_wp_page and copies when a forked child's hwpoison entry still shares the page.
        MapFrame(p, leafVa, pfn, size, vma.Writable && vma.Shared);
        if (heldRef)
        {
            // The entry's reference moves to the new PTE.
            Frames.HwpEntryRefs(pfn)--;
            PutPage(pfn);
        }
    }

    /// <summary>do_wp_page: copy-on-write for private anonymous memory.</summary>
    private VmFault DoWpPage(Process p, Vma vma, ulong va, PteValue entry, MappingSize size)
    {
        if (vma.Shared)
        {
            p.PageTable.Set(size == MappingSize.Size2M ? va & ~(PageGeometry.HugeSize - 1) : va & ~(ulong)(PageGeometry.PageSize - 1), entry.WithWritable(true), size);
            p.Tlb.Invalidate(va, PageGeometry.PageSize);
            return VmFault.Ok;
        }
        if (size == MappingSize.Size2M)
        {
            HugeMemory.SplitHugePmdAt(p, va & ~(PageGeometry.HugeSize - 1));
            entry = p.PageTable.Lookup(va, out size);
        }
        var pageVa = va & ~(ulong)(PageGeometry.PageSize - 1);
        var old = entry.Pfn;
        if (old != FrameAllocator.ZeroPage && RefCount(old) == 1 && !Frames.Has(old, FrameFlags.Compound))
        {
            p.PageTable.Set(pageVa, entry.WithWritable(true), MappingSize.Size4K);
            p.Tlb.Invalidate(pageVa, PageGeometry.PageSize);
            return VmFault.Ok;
        }
        var copy = AllocateFrame();
        if (!copy.IsValid) return VmFault.Oom;
        Frames.SetFlags(copy, FrameFlags.SwapBacked | FrameFlags.Dirty);
        var source = PhysicalMemory.Peek(old);
        if (!source.IsEmpty)
        {
            source.CopyTo(PhysicalMemory.Materialize(copy));
            CostLedger.Add(CostKind.PageCopy);
        }
        ZapEntry(p, pageVa, entry, MappingSize.Size4K);
        MapFrame(p, pageVa, copy, MappingSize.Size4K, writable: true);
        ShootDown(p, pageVa, PageGeometry.PageSize);
        // wp_page_copy: ptep_clear_flush_notify tells KVM, whose EPT still maps the old frame.
        MmuNotifier.InvalidateRange(p, new Hva(pageVa), new Hva(pageVa + PageGeometry.PageSize));
        return VmFault.Ok;
    }

    /// <summary>do_anonymous_page / __do_fault / hugetlb_no_page for a none entry.</summary>
    private VmFault DoFault(Process p, Vma vma, ulong va, bool write)
    {
        switch (vma.Kind)
        {
            case VmaKind.Anon:
                if (ThpEligible(p, vma, va))
                {
                    var head = Allocator.AllocateHuge();
                    if (head.IsValid)
                    {
                        CostLedger.Add(CostKind.FrameAlloc);
                        for (var i = 0; i < PageGeometry.PagesPerHuge; i++) Frames.SetFlags(head.Add(i), FrameFlags.SwapBacked);
                        MapFrame(p, va & ~(PageGeometry.HugeSize - 1), head, MappingSize.Size2M, writable: true, protNone: vma.ProtNone);
                        return VmFault.Ok;
                    }
                }
                var pageVa = va & ~(ulong)(PageGeometry.PageSize - 1);
                if (!write && !vma.ProtNone)
                {
                    // do_anonymous_page maps the shared zero page read-only for a read fault.
                    MapFrame(p, pageVa, FrameAllocator.ZeroPage, MappingSize.Size4K, writable: false);
                    return VmFault.Ok;
                }
                var pfn = AllocateFrame();
                if (!pfn.IsValid) return VmFault.Oom;
                Frames.SetFlags(pfn, FrameFlags.SwapBacked | FrameFlags.Dirty);
                MapFrame(p, pageVa, pfn, MappingSize.Size4K, writable: true, protNone: vma.ProtNone);
                return VmFault.Ok;

            case VmaKind.Hugetlb:
            {
                var file = vma.File!;
                var hugeVa = va & ~(PageGeometry.HugeSize - 1);
                var index = vma.FileIndex(hugeVa);
                var head = GetHugetlbPage(file, index);
                // hugetlb_no_page: past EOF, or alloc_hugetlb_folio finds no free huge page (-ENOSPC), is VM_FAULT_SIGBUS.
                if (!head.IsValid) return VmFault.SigBus;
                if (Frames.Has(head, FrameFlags.HwPoison)) return VmFault.HwPoisonLarge;
                MapFrame(p, hugeVa, head, MappingSize.Size2M, vma.Writable, vma.ProtNone);
                return VmFault.Ok;
            }

            default:
            {
                var file = vma.File!;
                var index = vma.FileIndex(va);
                if (index >= file.Pages) return VmFault.SigBus;
                var pfn2 = GetCachePage(file, index, create: true);
                if (!pfn2.IsValid) return VmFault.Oom;
                // __do_fault: a poisoned page-cache page gives VM_FAULT_HWPOISON (K23); the RFC's shmem patch -EIO (VM_FAULT_SIGBUS).
                if (Frames.Has(pfn2, FrameFlags.HwPoison))
                    return HwPoisonEntryPolicy.OnPoisonedCachePage(new PoisonedCachePage(pfn2)) == SigBusCode.BUS_ADRERR ? VmFault.SigBus : VmFault.HwPoison;
                MapFrame(p, va & ~(ulong)(PageGeometry.PageSize - 1), pfn2, MappingSize.Size4K, vma.Writable && vma.Shared, vma.ProtNone);
                return VmFault.Ok;
            }
        }
    }

    private bool ThpEligible(Process p, Vma vma, ulong va)
    {
        if (!vma.HugePage || vma.NoHugePage) return false;
        var start = va & ~(PageGeometry.HugeSize - 1);
        if (start < vma.Start || start + PageGeometry.HugeSize > vma.End) return false;
        if (!vma.Vm.IsNone && Thp is not null && !Thp.AllowHugeMapping(Kvm.GetVm(vma.Vm))) return false;
        return RangeIsEmpty(p, start, start + PageGeometry.HugeSize);
    }

    /// <summary>True when no leaf exists in [start, end) (its own method: the visitor's closure is allocated only here).</summary>
    private static bool RangeIsEmpty(Process p, ulong start, ulong end)
    {
        var empty = true;
        p.PageTable.Visit(start, end, (_, _, _) => empty = false);
        return empty;
    }

    /// <summary>find_get_page / shmem_getpage: the page-cache frame for an index, created zeroed on demand.</summary>
    internal Pfn GetCachePage(BackingFile file, ulong index, bool create)
    {
        if (file.IsHugetlb)
        {
            var head = GetHugetlbPage(file, index & ~(ulong)(PageGeometry.PagesPerHuge - 1), create);
            return head.IsValid ? head.Add((long)(index & (PageGeometry.PagesPerHuge - 1))) : head;
        }
        var pfn = file.Lookup(index);
        if (pfn.IsValid || !create || index >= file.Pages) return pfn;
        pfn = AllocateFrame();
        if (!pfn.IsValid) return pfn;
        Frames.SetFlags(pfn, FrameFlags.PageCache | (file.Kind == BackingKind.File ? FrameFlags.None : FrameFlags.SwapBacked));
        Frames.SetFile(pfn, file.Id, index);
        Frames.RefCount(pfn) = 1; // the page cache's reference
        file.Insert(index, pfn);
        return pfn;
    }

    private Pfn GetHugetlbPage(BackingFile file, ulong alignedIndex, bool create = true)
    {
        if (alignedIndex >= file.Pages) return Pfn.Invalid;
        var head = file.Lookup(alignedIndex);
        if (head.IsValid || !create) return head;
        head = Allocator.AllocateHuge();
        if (!head.IsValid) return head;
        CostLedger.Add(CostKind.FrameAlloc);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            Frames.SetFlags(head.Add(i), FrameFlags.Hugetlb | FrameFlags.PageCache);
            Frames.SetFile(head.Add(i), file.Id, alignedIndex + (ulong)i);
        }
        Frames.RefCount(head) = 1;
        file.Insert(alignedIndex, head);
        return head;
    }

    /// <summary>Drops a page from the page cache (truncate, hole punch, memory_failure on ≤5.15 shmem).</summary>
    internal void RemoveFromCache(BackingFile file, ulong index)
    {
        var pfn = file.Lookup(index);
        if (!pfn.IsValid) return;
        file.Remove(index);
        var count = file.IsHugetlb ? PageGeometry.PagesPerHuge : 1;
        for (var i = 0; i < count; i++)
        {
            Frames.SetFile(pfn.Add(i), 0, 0);
            Frames.ClearFlags(pfn.Add(i), FrameFlags.PageCache);
        }
        PutPage(pfn);
    }
}
