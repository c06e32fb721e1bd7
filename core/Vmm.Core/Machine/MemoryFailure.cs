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

    /// <summary>
    /// memory_failure(pfn, flags) as in mm/memory-failure.c (v5.16, with the version switches of table V).
    /// Returns 0 or the errno. Signals go to <see cref="HostKernel.Events"/>.
    /// </summary>
    internal Errno Handle(Pfn pfn, bool actionRequired, Process? current, Hva currentVa,
        bool simulated = false, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        _kernel.CostLedger.Add(CostKind.MemoryFailure);
        if (!_kernel.Options.Recovery)
        {
            _kernel.Raise(KernelEvent.Of(KernelEventKind.HostPanic, $"memory_failure on {pfn} with vm.memory_failure_recovery = 0"));
            return 0;
        }
        if (!Frames.IsValid(pfn)) return Errno.ENXIO;
        if (pfn == FrameAllocator.ZeroPage) return Errno.EBUSY; // reserved page: me_kernel, ignored
        _kernel.FrameLifecyclePolicy.OnMemoryFailure(new FailedFrame(pfn, actionRequired));

        var head = _kernel.Mm.Head(pfn);
        if (Frames.Has(head, FrameFlags.Hugetlb)) return MemoryFailureHugetlb(head, actionRequired, current, currentVa, simulated, context, vm);

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
        var victims = CollectProcs(pfn, actionRequired, current);
        _kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison);
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
        if (Frames.Has(pfn, FrameFlags.Compound) && !_kernel.HugeMemory.SplitHugePage(_kernel.Mm.Head(pfn))) return Errno.EBUSY;
        if (Frames.PinCountOf(pfn) > 0) return Errno.EBUSY;
        var target = _kernel.Mm.AllocateFrame();
        if (!target.IsValid) return Errno.ENOMEM;
        Frames.SetFlags(target, Frames.Flags(pfn) & (FrameFlags.SwapBacked | FrameFlags.PageCache | FrameFlags.Dirty));
        var source = _kernel.Mm.PhysicalMemory.Peek(pfn);
        if (!source.IsEmpty) source.CopyTo(_kernel.Mm.PhysicalMemory.Materialize(target));
        _kernel.CostLedger.Add(CostKind.PageCopy);
        // migrate_pages: every mapping moves to the new frame (through migration entries, done at once here).
        foreach (var (pid, hva) in _kernel.Mm.Mappings(pfn))
        {
            var p = _kernel.FindProcess(pid)!;
            var entry = p.PageTable.Lookup(hva.Value, out var size);
            if (size != MappingSize.Size4K || !entry.MapsFrame) continue;
            p.PageTable.Set(hva.Value, PteValue.MigrationEntry(pfn, entry.IsWritable), size);
            _kernel.Mm.Rmap.Remove(pfn, pid, hva.Value);
            Frames.MapCount(pfn)--;
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
            Frames.RefCount(target)++;
            _kernel.Mm.PutPage(pfn);
        }
        // The old frame is retired: poisoned and off the allocator, whatever references remain.
        Frames.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.Offlined);
        return 0;
    }

    /// <summary>unpoison_memory: clears software-injected poison on a frame nobody maps.</summary>
    internal Errno Unpoison(Pfn pfn)
    {
        if (!Frames.IsValid(pfn)) return Errno.ENXIO;
        if (!Frames.Has(pfn, FrameFlags.HwPoison)) return 0;
        if (Frames.Has(pfn, FrameFlags.RealError) && _kernel.Version.AtLeast(5, 19)) return Errno.EOPNOTSUPP;
        if (_kernel.Mm.MapCount(pfn) > 0) return _kernel.Version.AtLeast(5, 19) ? Errno.EBUSY : 0;
        Frames.ClearFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.RealError);
        return 0;
    }
}
