using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Core.Machine;

/// <summary>Result of the fault handler (VM_FAULT_* reduced to what callers distinguish).</summary>
internal enum VmFault
{
    Ok,
    /// <summary>No VMA or a protection violation: SIGSEGV.</summary>
    SigSegv,
    /// <summary>VM_FAULT_SIGBUS: SIGBUS BUS_ADRERR.</summary>
    SigBus,
    /// <summary>VM_FAULT_HWPOISON: SIGBUS BUS_MCEERR_AR lsb 12.</summary>
    HwPoison,
    /// <summary>VM_FAULT_HWPOISON_LARGE: lsb 21.</summary>
    HwPoisonLarge,
    /// <summary>VM_FAULT_OOM.</summary>
    Oom,
    /// <summary>The policy let a GUP with FOLL_ALLOW_POISONED take a frame behind a hwpoison entry.</summary>
    Allowed,
}

/// <summary>
/// The fault path and GUP: mm/memory.c (translation of a user access, handle_mm_fault, do_wp_page,
/// do_anonymous_page / __do_fault, hwpoison entries) and mm/gup.c (__get_user_pages, follow_page), on the
/// host's frames and page tables of <see cref="MemoryManager"/>.
/// </summary>
internal sealed class FaultHandler
{
    private readonly HostKernel _kernel;

    public FaultHandler(HostKernel kernel) => _kernel = kernel;

    private FrameTable Frames => _kernel.Mm.Frames;

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
                _kernel.CostLedger.Add(CostKind.TlbHit);
                pfn = MemoryManager.LeafPfn(cached, cachedSize, va);
                return VmFault.Ok;
            }
            _kernel.CostLedger.Add(CostKind.TlbMiss);
            _kernel.CostLedger.Add(CostKind.PageWalk);
            var entry = p.PageTable.Lookup(va, out var size);
            if (entry.IsPresent && (!write || entry.IsWritable))
            {
                p.Tlb.Insert(va, entry, size);
                pfn = MemoryManager.LeafPfn(entry, size, va);
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
    private void OomKill(Process p, ulong va) => _kernel.Raise(OomKillEvent(p, va));

    internal static KernelEvent OomKillEvent(Process p, ulong va)
        => new(KernelEventKind.SigKill, p.Pid, default, new Hva(va), 0, SignalContext.Async, default, "out of memory: the OOM killer chose this process");

    private VmFault HandleMmFaultCore(Process p, ulong va, bool write, GupFlags flags, PteValue entry, MappingSize size, out Pfn allowed)
    {
        allowed = Pfn.Invalid;
        _kernel.CostLedger.Add(CostKind.PageFault);
        var vma = p.FindVma(va);
        if (vma is null) return VmFault.SigSegv;
        if (write && !vma.Writable) return VmFault.SigSegv;
        if (vma.ProtNone && (flags & GupFlags.AllowPoisoned) == 0) return VmFault.SigBus;
        if (entry.IsProtNone) return (flags & GupFlags.AllowPoisoned) != 0 ? VmFault.Ok : VmFault.SigBus;
        if (entry.IsSwap)
        {
            if (!entry.IsHwPoison) return VmFault.SigBus; // an unknown or stale entry: print_bad_pte, VM_FAULT_SIGBUS
            var pfn = entry.SwapPfn;
            var subpage = size == MappingSize.Size2M ? MemoryManager.LeafPfn(PteValue.Leaf(pfn, false, size), size, va) : pfn;
            switch (_kernel.HwPoisonEntryPolicy.OnHwPoisonEntry(new HwPoisonEntry(p.Pid, new Hva(va & ~(ulong)(PageGeometry.PageSize - 1)), subpage, flags)))
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
        return DoFault(p, vma, va, write, flags);
    }

    private void RebuildFromHwPoisonEntry(Process p, Vma vma, ulong va, PteValue entry, MappingSize size)
    {
        if (size == MappingSize.Size2M && _kernel.HugeMemory.IsPmdMarker(entry))
        {
            // A THP's PMD marker (T3) comes back per 4 KiB: its other pages may still be private.
            _kernel.HugeMemory.RemapPmdMarker(p, va);
            return;
        }
        var pfn = entry.SwapPfn;
        var leafVa = size == MappingSize.Size2M ? va & ~(PageGeometry.HugeSize - 1) : va & ~(ulong)(PageGeometry.PageSize - 1);
        p.PageTable.Set(leafVa, PteValue.None, size);
        var heldRef = Frames.HwpEntryRefsOf(pfn) > 0;
        // mk_pte(page, vma->vm_page_prot): a MAP_PRIVATE mapping gets no write bit, so a write goes through
        // do_wp_page and copies when a forked child's hwpoison entry still shares the page.
        _kernel.Mm.MapFrame(p, new Hva(leafVa), pfn, size, vma.Writable && vma.Shared);
        if (heldRef)
        {
            // The entry's reference moves to the new PTE.
            Frames.HwpEntryRefs(pfn)--;
            _kernel.Mm.PutPage(pfn);
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
            _kernel.HugeMemory.SplitHugePmdAt(p, va & ~(PageGeometry.HugeSize - 1));
            entry = p.PageTable.Lookup(va, out size);
        }
        var pageVa = va & ~(ulong)(PageGeometry.PageSize - 1);
        var old = entry.Pfn;
        if (old != FrameAllocator.ZeroPage && _kernel.Mm.RefCount(old) == 1 && !Frames.Has(old, FrameFlags.Compound))
        {
            p.PageTable.Set(pageVa, entry.WithWritable(true), MappingSize.Size4K);
            p.Tlb.Invalidate(pageVa, PageGeometry.PageSize);
            return VmFault.Ok;
        }
        var copy = _kernel.Mm.AllocateFrame();
        if (!copy.IsValid) return VmFault.Oom;
        Frames.SetFlags(copy, FrameFlags.SwapBacked | FrameFlags.Dirty);
        var source = _kernel.Mm.PhysicalMemory.Peek(old);
        if (!source.IsEmpty)
        {
            source.CopyTo(_kernel.Mm.PhysicalMemory.Materialize(copy));
            _kernel.CostLedger.Add(CostKind.PageCopy);
        }
        _kernel.Mm.ZapEntry(p, new Hva(pageVa), entry, MappingSize.Size4K);
        _kernel.Mm.MapFrame(p, new Hva(pageVa), copy, MappingSize.Size4K, writable: true);
        _kernel.Mm.ShootDown(p, new Hva(pageVa), PageGeometry.PageSize);
        // wp_page_copy: ptep_clear_flush_notify tells KVM, whose EPT still maps the old frame.
        _kernel.MmuNotifier.InvalidateRange(p, new Hva(pageVa), new Hva(pageVa + PageGeometry.PageSize));
        return VmFault.Ok;
    }

    /// <summary>do_anonymous_page / __do_fault / hugetlb_no_page for a none entry.</summary>
    private VmFault DoFault(Process p, Vma vma, ulong va, bool write, GupFlags flags)
    {
        switch (vma.Kind)
        {
            case VmaKind.Anon:
                if (ThpEligible(p, vma, va))
                {
                    var head = _kernel.Mm.Allocator.AllocateHuge();
                    if (head.IsValid)
                    {
                        _kernel.CostLedger.Add(CostKind.FrameAlloc);
                        for (var i = 0; i < PageGeometry.PagesPerHuge; i++) Frames.SetFlags(head.Add(i), FrameFlags.SwapBacked);
                        _kernel.Mm.MapFrame(p, new Hva(va & ~(PageGeometry.HugeSize - 1)), head, MappingSize.Size2M, writable: true, protNone: vma.ProtNone);
                        return VmFault.Ok;
                    }
                }
                var pageVa = va & ~(ulong)(PageGeometry.PageSize - 1);
                if (!write && !vma.ProtNone)
                {
                    // do_anonymous_page maps the shared zero page read-only for a read fault.
                    _kernel.Mm.MapFrame(p, new Hva(pageVa), FrameAllocator.ZeroPage, MappingSize.Size4K, writable: false);
                    return VmFault.Ok;
                }
                var pfn = _kernel.Mm.AllocateFrame();
                if (!pfn.IsValid) return VmFault.Oom;
                Frames.SetFlags(pfn, FrameFlags.SwapBacked | FrameFlags.Dirty);
                _kernel.Mm.MapFrame(p, new Hva(pageVa), pfn, MappingSize.Size4K, writable: true, protNone: vma.ProtNone);
                return VmFault.Ok;

            case VmaKind.Hugetlb:
            {
                var file = vma.File!;
                var hugeVa = va & ~(PageGeometry.HugeSize - 1);
                var index = vma.FileIndex(hugeVa);
                var head = _kernel.PageCache.GetHugetlbPage(file, index);
                // hugetlb_no_page: past EOF, or alloc_hugetlb_folio finds no free huge page (-ENOSPC), is VM_FAULT_SIGBUS.
                if (!head.IsValid) return VmFault.SigBus;
                if (Frames.Has(head, FrameFlags.HwPoison)) return VmFault.HwPoisonLarge;
                _kernel.Mm.MapFrame(p, new Hva(hugeVa), head, MappingSize.Size2M, vma.Writable, vma.ProtNone);
                return VmFault.Ok;
            }

            default:
            {
                var file = vma.File!;
                var index = vma.FileIndex(va);
                if (index >= file.Pages) return VmFault.SigBus;
                // kvm_gmem_fault_user_mapping: a private page of a guest_memfd is never mapped in the VMM.
                if (file.Kind == BackingKind.GuestMemfd && _kernel.Kvm.GmemPagePrivate(file, index)) return VmFault.SigBus;
                var pfn2 = _kernel.PageCache.GetPage(file, index, create: true);
                if (!pfn2.IsValid) return VmFault.Oom;
                // __do_fault: a poisoned page-cache page gives VM_FAULT_HWPOISON (K23); the RFC's shmem patch -EIO (VM_FAULT_SIGBUS).
                if (Frames.Has(pfn2, FrameFlags.HwPoison))
                    return _kernel.HwPoisonEntryPolicy.OnPoisonedCachePage(new PoisonedCachePage(pfn2)) == SigBusCode.BUS_ADRERR ? VmFault.SigBus : VmFault.HwPoison;
                // shmem_getpage_gfp under the policy: a refused lookup is vmf_error(-EIO), VM_FAULT_SIGBUS.
                if (_kernel.PageCachePolicy.OnPageCacheLookup(new PageCacheLookup(pfn2, Syscall: false, vma.Guest, flags)) != 0) return VmFault.SigBus;
                _kernel.Mm.MapFrame(p, new Hva(va & ~(ulong)(PageGeometry.PageSize - 1)), pfn2, MappingSize.Size4K, vma.Writable && vma.Shared, vma.ProtNone || vma.Guest);
                return VmFault.Ok;
            }
        }
    }

    private bool ThpEligible(Process p, Vma vma, ulong va)
    {
        if (!vma.HugePage || vma.NoHugePage) return false;
        var start = va & ~(PageGeometry.HugeSize - 1);
        if (start < vma.Start || start + PageGeometry.HugeSize > vma.End) return false;
        if (!vma.Vm.IsNone && _kernel.Thp is not null && !_kernel.Thp.AllowHugeMapping(_kernel.Kvm.GetVm(vma.Vm))) return false;
        return RangeIsEmpty(p, start, start + PageGeometry.HugeSize);
    }

    /// <summary>True when no leaf exists in [start, end) (its own method: the visitor's closure is allocated only here).</summary>
    private static bool RangeIsEmpty(Process p, ulong start, ulong end)
    {
        var empty = true;
        p.PageTable.Visit(start, end, (_, _, _) => empty = false);
        return empty;
    }

    /// <summary>
    /// __get_user_pages: takes a reference on each page (and a pin with FOLL_PIN). Returns the number of
    /// pages taken; when the first page fails, 0 and the errno (vm_fault_to_errno: a hwpoison fault is
    /// EHWPOISON with FOLL_HWPOISON, else EFAULT).
    /// </summary>
    internal int GetUserPages(Process p, ulong start, int pages, GupFlags flags, List<Pfn>? taken, out Errno error)
    {
        _kernel.CostLedger.Add(CostKind.Gup);
        flags |= GupFlags.Get;
        error = 0;
        var write = (flags & GupFlags.Write) != 0;
        var count = 0;
        for (var i = 0; i < pages; i++)
        {
            var va = (start & ~(ulong)(PageGeometry.PageSize - 1)) + (ulong)i * PageGeometry.PageSize;
            var pfn = FollowPage(p, va, flags, write, out var pageError);
            if (!pfn.IsValid)
            {
                error = pageError;
                break;
            }
            _kernel.Mm.GetPage(pfn);
            if ((flags & GupFlags.Pin) != 0) Frames.PinCount(_kernel.Mm.Head(pfn))++;
            taken?.Add(pfn);
            count++;
        }
        return count;
    }

    /// <summary>follow_page + faultin_page for one page; Pfn.Invalid with the errno when it cannot be had.</summary>
    private Pfn FollowPage(Process p, ulong va, GupFlags flags, bool write, out Errno error)
    {
        error = 0;
        if (p.FindVma(va) is null)
        {
            error = Errno.EFAULT;
            return Pfn.Invalid;
        }
        for (var attempt = 0; attempt < 4; attempt++)
        {
            _kernel.CostLedger.Add(CostKind.PageWalk);
            var entry = p.PageTable.Lookup(va, out var size);
            // FOLL_KVM (2020) / FOLL_ALLOW_POISONED (2021) share one bit: KVM may follow PROT_NONE guest entries.
            if (entry.IsProtNone && (flags & GupFlags.AllowPoisoned) != 0) return MemoryManager.LeafPfn(entry, size, va);
            if (entry.IsPresent && (!write || entry.IsWritable))
            {
                return MemoryManager.LeafPfn(entry, size, va);
            }
            // gup_fast gives up on anything not present and falls back to the slow path: same result.
            var fault = HandleMmFault(p, va, write, flags, entry, size, out var allowed);
            switch (fault)
            {
                case VmFault.Ok:
                    continue;
                case VmFault.Allowed:
                    return allowed;
                case VmFault.HwPoison:
                case VmFault.HwPoisonLarge:
                    error = (flags & GupFlags.HwPoison) != 0 ? Errno.EHWPOISON : Errno.EFAULT;
                    return Pfn.Invalid;
                case VmFault.Oom:
                    error = Errno.ENOMEM;
                    return Pfn.Invalid;
                default:
                    error = Errno.EFAULT;
                    return Pfn.Invalid;
            }
        }
        error = Errno.EFAULT;
        return Pfn.Invalid;
    }

    /// <summary>Releases pages taken by GetUserPages without FOLL_PIN.</summary>
    internal void PutPages(List<Pfn> pages)
    {
        foreach (var pfn in pages) _kernel.Mm.PutPage(pfn);
        pages.Clear();
    }
}
