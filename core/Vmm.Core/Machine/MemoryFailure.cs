using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// mm/memory-failure.c: memory_failure (<see cref="Handle"/>), soft_offline_page and unpoison_memory, acting
/// on the host's frames, mappings and page cache through <see cref="HostKernel"/>.
/// </summary>
internal sealed class MemoryFailure
{
    private readonly HostKernel _kernel;

    public MemoryFailure(HostKernel kernel) => _kernel = kernel;

    private FrameTable Frames => _kernel.Mm.Frames;

    private readonly HashSet<ulong> _rawHwpList = [];

    /// <summary>The raw 4 KiB subpage of a poisoned hugetlb page that memory_failure hit (the folio's raw_hwp_list).</summary>
    internal bool IsRawHwPoison(Pfn pfn) => _rawHwpList.Contains(pfn.Value);

    /// <summary>hw_memory_failure: a real (not MF_SW_SIMULATED) memory failure has happened somewhere since boot.</summary>
    internal bool HwMemoryFailure { get; private set; }

    /// <summary>
    /// memory_failure(pfn, flags) as in mm/memory-failure.c (v5.16, with the version switches of table V).
    /// Returns 0 or the errno. Signals go to <see cref="HostKernel.Events"/>.
    /// </summary>
    internal Errno Handle(Pfn pfn, bool actionRequired, Process? current, Hva currentVa,
        bool simulated = false, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        _kernel.CostLedger.Add(CostKind.MemoryFailure);
        DroppedCleanPage = false;
        if (!_kernel.Options.Recovery)
        {
            _kernel.Raise(KernelEvent.Of(KernelEventKind.HostPanic, $"memory_failure on {pfn} with vm.memory_failure_recovery = 0"));
            return 0;
        }
        if (!simulated) HwMemoryFailure = true;
        if (!Frames.IsValid(pfn)) return Errno.ENXIO;
        if (pfn == FrameAllocator.ZeroPage) return Errno.EBUSY; // reserved page: me_kernel, ignored
        _kernel.FrameLifecyclePolicy.OnMemoryFailure(new FailedFrame(pfn, actionRequired));

        var head = _kernel.Mm.Head(pfn);
        if (Frames.Has(head, FrameFlags.Hugetlb))
        {
            _rawHwpList.Add(pfn.Value); // hugetlb_update_hwpoison: the raw subpage, for reads around it (table V, ≥6.6)
            return MemoryFailureHugetlb(head, actionRequired, current, currentVa, simulated, context, vm);
        }

        if (Frames.Has(pfn, FrameFlags.HwPoison))
        {
            if (!simulated) Frames.SetFlags(pfn, FrameFlags.RealError);
            // "already hardware poisoned": with MF_ACTION_REQUIRED, kill_accessing_process.
            if (actionRequired && current is not null && MapsOrPoisons(current, currentVa.Value, pfn))
                _kernel.Raise(KernelEvent.SigBus(current.Pid, SigBusCode.BUS_MCEERR_AR, currentVa.PageAligned, PageGeometry.PageShift, context, vm, "already poisoned"));
            return Errno.EHWPOISON;
        }

        Frames.SetFlags(pfn, FrameFlags.HwPoison | (simulated ? FrameFlags.None : FrameFlags.RealError));
        if (_kernel.Mm.Allocator.IsFree(pfn))
        {
            _kernel.Mm.Allocator.TakeOff(pfn); // K17: take_page_off_buddy
            return 0;
        }

        if (Frames.Has(pfn, FrameFlags.Compound))
        {
            Frames.SetFlags(head, FrameFlags.HasHwPoisoned);
            if (!_kernel.HugeMemory.SplitHugePage(head))
            {
                // K16: the THP split failed (pinned).
                if (!_kernel.Version.AtLeast(6, 11)) return Errno.EBUSY;
                KillProcsNow(pfn, actionRequired, current, currentVa, context, vm);
                return Errno.EHWPOISON;
            }
        }

        _kernel.Mm.GetPage(pfn); // get_hwpoison_page: this reference is never dropped
        if (IsCleanWritebackPage(pfn, out var cleanFile))
        {
            // K11a, hwpoison_user_mappings: "corrupted page was clean: dropped without side effects". The PTEs go
            // (no TTU_HWPOISON), nobody is killed (forcekill false), and the next access re-reads the file.
            _kernel.Mm.TryToUnmap(pfn, UnmapFlags.None);
            _kernel.PageCache.Remove(cleanFile, Frames.FileIndex(pfn));
            DroppedCleanPage = true;
            return 0;
        }
        var victims = CollectProcs(pfn, actionRequired, current);
        _kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison);
        if (_kernel.Mm.MapCount(pfn) > 0)
        {
            UnmapFailed(victims, actionRequired, current, currentVa, context, vm);
            return Errno.EBUSY; // action_result(MF_MSG_UNMAP_FAILED, MF_IGNORED)
        }
        foreach (var (p, va) in victims)
        {
            var ar = actionRequired && p == current;
            var address = ar && currentVa.Value != 0 ? currentVa.PageAligned : new Hva(va);
            _kernel.Raise(KernelEvent.SigBus(p.Pid, ar ? SigBusCode.BUS_MCEERR_AR : SigBusCode.BUS_MCEERR_AO, address, PageGeometry.PageShift,
                ar ? context : SignalContext.Async, vm, ar ? "action required" : "early kill"));
        }
        if (actionRequired && current is not null && !victims.Exists(v => v.Process == current))
        {
            // The consumer reached the frame through a mapping rmap does not list (e.g. a KVM access).
            _kernel.Raise(KernelEvent.SigBus(current.Pid, SigBusCode.BUS_MCEERR_AR, currentVa.PageAligned, PageGeometry.PageShift, context, vm, "action required"));
        }
        HandlePageState(pfn);
        return 0;
    }

    /// <summary>The last <see cref="Handle"/> dropped a clean page-cache page (K11a): the access that consumed the error restarts.</summary>
    internal bool DroppedCleanPage { get; private set; }

    /// <summary>A clean page of a file that can be written back (mapping_can_writeback: a regular file, not shmem or hugetlbfs).</summary>
    private bool IsCleanWritebackPage(Pfn pfn, out BackingFile file)
    {
        file = _kernel.FileById(Frames.FileId(pfn))!;
        return file is { Kind: BackingKind.File } && Frames.Has(pfn, FrameFlags.PageCache) && !Frames.Has(pfn, FrameFlags.Dirty);
    }

    /// <summary>
    /// kill_procs with fail set (K30): try_to_unmap left a mapping, so every collected process is killed: SIGKILL up
    /// to 6.10, SIGBUS from 6.11 (AR to the consumer, AO to early-kill processes), at lsb 12.
    /// </summary>
    private void UnmapFailed(List<(Process Process, ulong Va)> victims, bool actionRequired, Process? current, Hva currentVa, SignalContext context, VmId vm)
    {
        foreach (var (p, va) in victims)
        {
            var ar = actionRequired && p == current;
            var address = ar && currentVa.Value != 0 ? currentVa.PageAligned : new Hva(va);
            if (!_kernel.Version.AtLeast(6, 11))
                _kernel.Raise(new KernelEvent(KernelEventKind.SigKill, p.Pid, default, address, 0, SignalContext.Async, vm, "failure to unmap corrupted page: forcibly killed"));
            else
                _kernel.Raise(KernelEvent.SigBus(p.Pid, ar ? SigBusCode.BUS_MCEERR_AR : SigBusCode.BUS_MCEERR_AO, address, PageGeometry.PageShift,
                    ar ? context : SignalContext.Async, vm, "failure to unmap corrupted page"));
        }
    }

    /// <summary>The page-state handlers (me_pagecache_*, me_swapcache_*) for what happens to the frame itself.</summary>
    private void HandlePageState(Pfn pfn)
    {
        var file = _kernel.FileById(Frames.FileId(pfn));
        if (file is null) return; // anonymous: recovered, the frame stays poisoned and referenced
        var index = Frames.FileIndex(pfn);
        switch (file.Kind)
        {
            case BackingKind.GuestMemfd:
                // kvm_gmem_error_folio: zap every EPT mapping and keep the page (MF_DELAYED); the next private access exits EHWPOISON.
                _kernel.Kvm.GmemInvalidate(file, index, index + 1);
                break;
            case BackingKind.Shmem:
                // v5.16 (a76054266661): shmem keeps the poisoned page in the cache; before, it truncated it.
                if (!_kernel.Version.AtLeast(5, 16)) _kernel.PageCache.Remove(file, index);
                break;
            case BackingKind.File:
                _kernel.PageCache.Remove(file, index); // generic_error_remove_page: truncate; the next read sees the disk copy
                break;
        }
    }

    /// <summary>collect_procs: who gets a signal (early kill: every mapper; action required: the consumer).</summary>
    private List<(Process Process, ulong Va)> CollectProcs(Pfn pfn, bool actionRequired, Process? current)
    {
        var result = new List<(Process, ulong)>();
        foreach (var (pid, hva) in _kernel.Mm.Mappings(pfn))
        {
            var p = _kernel.FindProcess(pid);
            if (p is null || !p.Alive) continue;
            var chosen = _kernel.Options.EarlyKill || (actionRequired && p == current);
            if (chosen && !result.Exists(r => r.Item1 == p)) result.Add((p, hva.Value));
        }
        return result;
    }

    /// <summary>kill_procs_now (≥ 6.11): after a failed THP split every collected process gets SIGBUS.</summary>
    private void KillProcsNow(Pfn pfn, bool actionRequired, Process? current, Hva currentVa, SignalContext context, VmId vm)
    {
        foreach (var (pid, hva) in _kernel.Mm.Mappings(pfn))
        {
            var p = _kernel.FindProcess(pid);
            if (p is null) continue;
            var ar = actionRequired && p == current;
            if (!ar && !_kernel.Options.EarlyKill && p != current) continue;
            // add_to_kill: size_shift = folio_shift of the still-huge folio (21); addr = the subpage's address.
            _kernel.Raise(KernelEvent.SigBus(pid, ar ? SigBusCode.BUS_MCEERR_AR : SigBusCode.BUS_MCEERR_AO,
                ar && currentVa.Value != 0 ? currentVa.PageAligned : hva, PageGeometry.HugeShift, ar ? context : SignalContext.Async, vm, "THP split failed"));
        }
        if (actionRequired && current is not null && !_kernel.Events.Exists(e => e.Pid == current.Pid))
            _kernel.Raise(KernelEvent.SigBus(current.Pid, SigBusCode.BUS_MCEERR_AR, currentVa.PageAligned, PageGeometry.HugeShift, context, vm, "THP split failed"));
    }

    /// <summary>try_memory_failure_hugetlb: the whole 2 MiB page is poisoned; its PMD becomes a hwpoison entry (lsb 21).</summary>
    private Errno MemoryFailureHugetlb(Pfn head, bool actionRequired, Process? current, Hva currentVa, bool simulated, SignalContext context, VmId vm)
    {
        if (Frames.Has(head, FrameFlags.HwPoison))
        {
            if (actionRequired && current is not null)
                _kernel.Raise(KernelEvent.SigBus(current.Pid, SigBusCode.BUS_MCEERR_AR, currentVa.HugeAligned, PageGeometry.HugeShift, context, vm, "already poisoned"));
            return Errno.EHWPOISON;
        }
        Frames.SetFlags(head, FrameFlags.HwPoison | (simulated ? FrameFlags.None : FrameFlags.RealError));
        _kernel.Mm.GetPage(head);
        var victims = CollectProcs(head, actionRequired, current);
        _kernel.Mm.TryToUnmap(head, UnmapFlags.HwPoison);
        foreach (var (p, va) in victims)
        {
            var ar = actionRequired && p == current;
            _kernel.Raise(KernelEvent.SigBus(p.Pid, ar ? SigBusCode.BUS_MCEERR_AR : SigBusCode.BUS_MCEERR_AO, new Hva(va), PageGeometry.HugeShift, ar ? context : SignalContext.Async, vm, "hugetlb"));
        }
        if (actionRequired && current is not null && !victims.Exists(v => v.Process == current))
            _kernel.Raise(KernelEvent.SigBus(current.Pid, SigBusCode.BUS_MCEERR_AR, currentVa.HugeAligned, PageGeometry.HugeShift, context, vm, "hugetlb"));
        var file = _kernel.FileById(Frames.FileId(head));
        // v6.1: hugetlbfs keeps the poisoned page (read → EIO); before, it was truncated.
        if (file is not null && !_kernel.Version.AtLeast(6, 1)) _kernel.PageCache.Remove(file, Frames.FileIndex(head) & ~(ulong)(PageGeometry.PagesPerHuge - 1));
        return 0;
    }

    /// <summary>True when the process maps the frame at va with a present entry or a hwpoison entry (kill_accessing_process's walk).</summary>
    private static bool MapsOrPoisons(Process p, ulong va, Pfn pfn)
    {
        var entry = p.PageTable.Lookup(va, out var size);
        if (entry.MapsFrame) return MemoryManager.LeafPfn(entry, size, va) == pfn;
        if (entry.IsHwPoison) return size == MappingSize.Size2M ? MemoryManager.LeafPfn(PteValue.Leaf(entry.SwapPfn, false, size), size, va) == pfn : entry.SwapPfn == pfn;
        return false;
    }

    /// <summary>soft_offline_page: migrate the contents to a new frame and retire the old one (K20). Kills nobody.</summary>
    internal Errno SoftOffline(Pfn pfn)
    {
        if (!Frames.IsValid(pfn)) return Errno.ENXIO;
        if (pfn == FrameAllocator.ZeroPage) return Errno.EBUSY; // get_hwpoison_page: not a handlable page
        if (Frames.Has(pfn, FrameFlags.HwPoison)) return 0;
        if (_kernel.Mm.Allocator.IsFree(pfn))
        {
            Frames.SetFlags(pfn, FrameFlags.HwPoison);
            _kernel.Mm.Allocator.TakeOff(pfn);
            return 0;
        }
        if (Frames.Has(_kernel.Mm.Head(pfn), FrameFlags.Hugetlb)) return SoftOfflineHugetlb(pfn);
        if (Frames.Has(pfn, FrameFlags.Compound) && !_kernel.HugeMemory.SplitHugePage(_kernel.Mm.Head(pfn))) return Errno.EBUSY;
        if (Frames.PinCountOf(pfn) > 0) return Errno.EBUSY;
        var target = _kernel.Mm.AllocateFrame();
        if (!target.IsValid) return Errno.ENOMEM;
        Frames.SetFlags(target, Frames.Flags(pfn) & (FrameFlags.SwapBacked | FrameFlags.PageCache | FrameFlags.Dirty));
        if (!MigrateCopy(pfn, target)) return Errno.EIO;
        _kernel.CostLedger.Add(CostKind.PageCopy);
        // migrate_pages: every mapping moves to the new frame (through migration entries, done at once here).
        foreach (var (pid, hva) in _kernel.Mm.Mappings(pfn))
        {
            var p = _kernel.FindProcess(pid)!;
            var entry = p.PageTable.Lookup(hva.Value, out var size);
            if (size != MappingSize.Size4K || !entry.MapsFrame) continue;
            p.PageTable.Set(hva.Value, PteValue.MigrationEntry(pfn, entry.IsWritable), size);
            _kernel.Mm.Rmap.Remove(pfn, pid, hva.Value);
            Frames.AddMapCount(pfn, -1);
            _kernel.Mm.PutPage(pfn);
            _kernel.Mm.ShootDown(p, hva, PageGeometry.PageSize);
            _kernel.Mm.MapFrame(p, hva, target, size, entry.IsWritable, entry.IsProtNone);
            _kernel.MmuNotifier.InvalidateRange(p, hva, new Hva(hva.Value + PageGeometry.PageSize)); // try_to_migrate's mmu notifier
        }
        var file = _kernel.FileById(Frames.FileId(pfn));
        if (file is not null)
        {
            var index = Frames.FileIndex(pfn);
            file.Insert(index, target);
            Frames.SetFile(target, file.Id, index);
            Frames.SetFile(pfn, 0, 0);
            Frames.ClearFlags(pfn, FrameFlags.PageCache);
            Frames.AddRefCount(target, 1);
            _kernel.Mm.PutPage(pfn);
        }
        // The old frame is retired: poisoned and off the allocator, whatever references remain.
        Frames.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.Offlined);
        return 0;
    }

    private readonly byte[] _copyBuffer = new byte[PageGeometry.PageSize];

    /// <summary>
    /// migrate_page_copy → copy_highpage: the kernel copies through the direct map with the host's KeyID, so a TD-owned
    /// line arrives as zeros (H4) and a poisoned line is consumed in kernel context (H7: the host panics; false).
    /// </summary>
    private bool MigrateCopy(Pfn from, Pfn to)
    {
        var mm = _kernel.Mm;
        return mm.KernelAccess(from, 0, _copyBuffer, write: false).IsOk && mm.KernelAccess(to, 0, _copyBuffer, write: true).IsOk;
    }

    /// <summary>
    /// soft_offline_in_use_page on a hugetlb page (K20; selftests mm/hugetlb-soft-offline.c): migrate_pages moves the
    /// whole 2 MiB page to a new huge page (contents, every PMD mapping, the page-cache slot); the old page is then
    /// dissolved into base pages, which go back to the allocator except the poisoned raw subpage. A pin, or no free
    /// huge page to migrate to, makes the migration fail: EBUSY.
    /// </summary>
    private Errno SoftOfflineHugetlb(Pfn pfn)
    {
        var mm = _kernel.Mm;
        var head = mm.Head(pfn);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            if (Frames.PinCountOf(head.Add(i)) > 0) return Errno.EBUSY;
        var target = mm.Allocator.AllocateHuge();
        if (!target.IsValid) return Errno.EBUSY;
        _kernel.CostLedger.Add(CostKind.FrameAlloc);
        var file = _kernel.FileById(Frames.FileId(head));
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            var from = head.Add(i);
            var to = target.Add(i);
            Frames.SetFlags(to, FrameFlags.Hugetlb | (Frames.Flags(from) & (FrameFlags.PageCache | FrameFlags.Dirty)));
            Frames.SetFile(to, Frames.FileId(from), Frames.FileIndex(from));
            if (!MigrateCopy(from, to)) return Errno.EIO;
        }
        _kernel.CostLedger.Add(CostKind.PageCopy, PageGeometry.PagesPerHuge);
        if (file is not null)
        {
            file.Insert(Frames.FileIndex(head) & ~(ulong)(PageGeometry.PagesPerHuge - 1), target);
            Frames.AddRefCount(target, 1); // the page cache's reference moves with the slot
        }
        foreach (var (pid, hva) in mm.Mappings(head))
        {
            var p = _kernel.FindProcess(pid)!;
            var entry = p.PageTable.Lookup(hva.Value, out var size);
            if (size != MappingSize.Size2M || !entry.MapsFrame) continue;
            mm.Rmap.Remove(head, pid, hva.Value);
            mm.PutPage(head);
            mm.MapFrame(p, hva, target, size, entry.IsWritable, entry.IsProtNone);
            mm.ShootDown(p, hva, PageGeometry.HugeSize);
            _kernel.MmuNotifier.InvalidateRange(p, hva, new Hva(hva.Value + PageGeometry.HugeSize));
        }
        // dissolve_free_hugetlb_folio + page_handle_poison: only the raw subpage stays poisoned (and leaked, K24).
        Frames.SetFlags(pfn, FrameFlags.HwPoison);
        if (file is not null)
        {
            for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            {
                Frames.SetFile(head.Add(i), 0, 0);
                Frames.ClearFlags(head.Add(i), FrameFlags.PageCache);
            }
            mm.PutPage(head);
        }
        return 0;
    }

    /// <summary>
    /// unpoison_memory: clears software-injected poison on a frame nobody maps. From 5.19 (K28) one real memory
    /// failure anywhere disables it for every frame, poisoned or not (the global hw_memory_failure).
    /// </summary>
    internal Errno Unpoison(Pfn pfn)
    {
        if (!Frames.IsValid(pfn)) return Errno.ENXIO;
        if (HwMemoryFailure && _kernel.Version.AtLeast(5, 19)) return Errno.EOPNOTSUPP;
        if (!Frames.Has(pfn, FrameFlags.HwPoison)) return 0;
        if (_kernel.Mm.MapCount(pfn) > 0) return _kernel.Version.AtLeast(5, 19) ? Errno.EBUSY : 0;
        Frames.ClearFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.RealError);
        return 0;
    }
}
