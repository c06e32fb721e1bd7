using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;

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
/// The simulated host kernel: frames, processes, page cache, faults, GUP, syscalls, memory_failure and
/// THP mechanisms; KVM is its own subsystem (<see cref="Machine.Kvm"/>). Single-threaded; behaviour follows docs/semantics.md.
/// </summary>
internal sealed partial class HostKernel
{
    private readonly List<Process> _processes = [];
    private readonly List<BackingFile> _files = [];
    private readonly List<RmapEntry> _rmapScratch = [];
    private readonly Stack<List<RmapEntry>> _listPool = new();
    private readonly IPageTableFactory _pageTables;
    private int _nextPid = 100;

    public HostKernel(long frameCount, SimulationComponents components, KernelVersion version, CostLedger ledger)
    {
        Frames = new FrameTable(frameCount);
        Allocator = new FrameAllocator(Frames);
        Rmap = new Rmap(Frames);
        PhysicalMemory = components.Contents;
        PhysicalMemory.Bind(frameCount);
        CostLedger = ledger;
        Version = version;
        Options = components.Kernel;
        Policy = components.Policy;
        // Each role once per run, so a hook call is one interface call and no type test.
        GuestFaultPolicy = Policy as IGuestFaultPolicy ?? KernelDefaults.Instance;
        HwPoisonEntryPolicy = Policy as IHwPoisonEntryPolicy ?? KernelDefaults.Instance;
        VmmMappingPolicy = Policy as IVmmMappingPolicy ?? KernelDefaults.Instance;
        ConversionPolicy = Policy as IConversionPolicy ?? KernelDefaults.Instance;
        FrameLifecyclePolicy = Policy as IFrameLifecyclePolicy ?? KernelDefaults.Instance;
        Thp = components.Thp;
        Memory = components.Memory;
        _pageTables = components.PageTables;
        Vmm = NewProcess("vmm");
        Kvm = new Kvm(this, _pageTables);
        MemoryFailure = new MemoryFailure(this);
        HugeMemory = new HugeMemory(this);
        Syscalls = new Syscalls(this);
        FaultHandler = new FaultHandler(this);
        components.Services.Bind(this);
    }

    internal FrameTable Frames { get; }
    internal FrameAllocator Allocator { get; }
    internal Rmap Rmap { get; }
    internal PhysicalMemory PhysicalMemory { get; }
    internal CostLedger CostLedger { get; }
    internal KernelOptions Options { get; }
    internal IPrivateMemoryPolicy Policy { get; }
    internal IGuestFaultPolicy GuestFaultPolicy { get; }
    internal IHwPoisonEntryPolicy HwPoisonEntryPolicy { get; }
    internal IVmmMappingPolicy VmmMappingPolicy { get; }
    internal IConversionPolicy ConversionPolicy { get; }
    internal IFrameLifecyclePolicy FrameLifecyclePolicy { get; }
    internal IHugePageStrategy? Thp { get; }
    internal Process Vmm { get; }
    internal MmuNotifier MmuNotifier { get; } = new();
    internal Kvm Kvm { get; }
    internal MemoryFailure MemoryFailure { get; }
    internal HugeMemory HugeMemory { get; }
    internal Syscalls Syscalls { get; }
    internal FaultHandler FaultHandler { get; }
    internal IReadOnlyList<Process> Processes => _processes;

    /// <summary>Events raised during the current step, in order.</summary>
    internal List<KernelEvent> Events { get; } = [];
    internal List<string> WarningLog { get; } = [];
    /// <summary>The machine ended (host panic or shutdown).</summary>
    internal bool Dead { get; private set; }

    public KernelVersion Version { get; }
    public IMemoryController Memory { get; }
    public int VmmPid => Vmm.Pid;

    /// <summary>The frame a leaf maps at <paramref name="va"/> (a subpage of a 2 MiB leaf).</summary>
    internal static Pfn LeafPfn(PteValue entry, MappingSize size, ulong va)
        => size == MappingSize.Size2M ? entry.Pfn.Add((long)((va >> PageGeometry.PageShift) & (PageGeometry.PagesPerHuge - 1))) : entry.Pfn;

    internal Process NewProcess(string name)
    {
        var p = new Process(_nextPid++, name, _pageTables.Create());
        _processes.Add(p);
        return p;
    }

    internal Process? FindProcess(int pid)
    {
        foreach (var p in _processes)
            if (p.Pid == pid) return p;
        return null;
    }

    internal BackingFile NewFile(string name, BackingKind kind, ulong size, VmId vm)
    {
        var file = new BackingFile(_files.Count + 1, name, kind, size, vm);
        _files.Add(file);
        return file;
    }

    internal BackingFile? FileById(int id) => id <= 0 || id > _files.Count ? null : _files[id - 1];

    internal void Raise(in KernelEvent e)
    {
        Events.Add(e);
        if (e.Kind is KernelEventKind.SigBus or KernelEventKind.SigKill or KernelEventKind.SigSegv) CostLedger.Add(CostKind.Signal);
        if (e.Kind is KernelEventKind.HostPanic or KernelEventKind.Shutdown) Dead = true;
    }

    public void Warn(string message) => WarningLog.Add(message);

    public void SignalVmm(SigBusCode code, Hva address, int lsb, string reason)
        => Raise(KernelEvent.SigBus(Vmm.Pid, code, address, lsb, SignalContext.Async, default, reason));

    // ---- frames -------------------------------------------------------------------------------------

    public FrameFlags GetFlags(Pfn pfn) => Frames.Flags(pfn);
    public void SetFlags(Pfn pfn, FrameFlags flags) => Frames.SetFlags(pfn, flags);
    public void ClearFlags(Pfn pfn, FrameFlags flags) => Frames.ClearFlags(pfn, flags);
    public VmId GetOwner(Pfn pfn) => Frames.Owner(pfn);
    public void SetOwner(Pfn pfn, VmId owner) => Frames.SetOwner(pfn, owner);
    public int RefCount(Pfn pfn) => Frames.RefCountOf(Head(pfn));
    public int MapCount(Pfn pfn)
    {
        // Frames.MapCount counts 4 KiB mappings of this frame; 2 MiB mappings are counted on the head's rmap.
        var count = Frames.MapCountOf(pfn);
        var head = Frames.Has(pfn, FrameFlags.Compound) ? Head(pfn) : pfn;
        if (Frames.Has(head, FrameFlags.Compound) || Frames.Has(head, FrameFlags.Hugetlb))
        {
            _rmapScratch.Clear();
            Rmap.Collect(head, _rmapScratch);
            foreach (var e in _rmapScratch)
                if (e.Size == MappingSize.Size2M) count++;
        }
        return count;
    }

    /// <summary>The frame that holds the reference count: the compound head for THP/hugetlb subpages.</summary>
    internal Pfn Head(Pfn pfn) => Frames.Has(pfn, FrameFlags.Compound) ? new Pfn(pfn.Value & ~(ulong)(PageGeometry.PagesPerHuge - 1)) : pfn;

    public void GetPage(Pfn pfn)
    {
        if (pfn == FrameAllocator.ZeroPage) return;
        Frames.RefCount(Head(pfn))++;
    }

    public void PutPage(Pfn pfn)
    {
        if (pfn == FrameAllocator.ZeroPage) return;
        var head = Head(pfn);
        ref var rc = ref Frames.RefCount(head);
        if (rc <= 0) throw new InvalidOperationException($"put_page on {head} with refcount {rc}: reference counting bug.");
        if (--rc == 0) FreeFrame(head);
    }

    internal Pfn AllocateFrame()
    {
        var pfn = Allocator.Allocate();
        if (pfn.IsValid) CostLedger.Add(CostKind.FrameAlloc);
        return pfn;
    }

    /// <summary>The last reference went away: free the frame (or the compound run), or leak it when poisoned (K24).</summary>
    private void FreeFrame(Pfn head)
    {
        var compound = Frames.Has(head, FrameFlags.Compound);
        var count = compound ? PageGeometry.PagesPerHuge : 1;
        var leakedAny = false;
        for (var i = 0; i < count; i++)
        {
            var pfn = head.Add(i);
            var action = FrameLifecyclePolicy.OnFree(new FreedFrame(pfn));
            if (Frames.Has(pfn, FrameFlags.HwPoison))
            {
                if (action != FreeAction.ClearPoisonAndFree)
                {
                    // K24: a poisoned frame never returns to the allocator.
                    Frames.SetFlags(pfn, FrameFlags.Offlined);
                    Frames.ClearFlags(pfn, FrameFlags.Compound);
                    leakedAny = true;
                    continue;
                }
                Frames.ClearFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.RealError);
            }
            Memory.OnFrameFreed(pfn);
            PhysicalMemory.Discard(pfn);
            Frames.Reset(pfn, FrameFlags.None);
            Allocator.Free(pfn);
            CostLedger.Add(CostKind.FrameFree);
        }
        if (compound && !leakedAny) Allocator.FreeHugeRun(head);
    }

    // ---- mappings -----------------------------------------------------------------------------------

    /// <summary>Installs a present leaf and accounts it (refcount, mapcount, rmap). The caller holds no extra reference.</summary>
    internal void MapFrame(Process p, ulong va, Pfn pfn, MappingSize size, bool writable, bool protNone = false)
    {
        var entry = protNone ? PteValue.ProtNoneLeaf(pfn, size) : PteValue.Leaf(pfn, writable, size);
        p.PageTable.Set(va, entry, size);
        if (pfn == FrameAllocator.ZeroPage) return;
        GetPage(pfn);
        if (size == MappingSize.Size4K) Frames.MapCount(pfn)++;
        Rmap.Add(pfn, p.Pid, va, size);
    }

    /// <summary>Removes one leaf (present, PROT_NONE or swap) and drops what it held.</summary>
    internal void ZapEntry(Process p, ulong va, PteValue entry, MappingSize size)
    {
        p.PageTable.Set(va, PteValue.None, size);
        if (entry.MapsFrame)
        {
            var pfn = entry.Pfn;
            p.Tlb.Invalidate(va, size == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize);
            if (pfn == FrameAllocator.ZeroPage) return;
            Rmap.Remove(pfn, p.Pid, va);
            if (size == MappingSize.Size4K) Frames.MapCount(pfn)--;
            if (entry.IsDirty || entry.IsWritable) Frames.SetFlags(pfn, FrameFlags.Dirty);
            PutPage(pfn);
        }
        else if (entry.IsHwPoison)
        {
            var pfn = entry.SwapPfn;
            if (Frames.HwpEntryRefsOf(pfn) > 0)
            {
                Frames.HwpEntryRefs(pfn)--;
                PutPage(pfn);
            }
        }
    }

    /// <summary>Zaps [start, end) of a process (munmap, MADV_DONTNEED, exit): every leaf dropped, one shootdown, EPTs notified.</summary>
    internal void ZapRange(Process p, ulong start, ulong end)
    {
        var leaves = new List<(ulong Va, PteValue Entry, MappingSize Size)>();
        p.PageTable.Visit(start, end, (va, entry, size) =>
        {
            leaves.Add((va, entry, size));
            return true;
        });
        var anyPresent = false;
        foreach (var (va, entry, size) in leaves)
        {
            if (size == MappingSize.Size2M && (va < start || va + PageGeometry.HugeSize > end))
            {
                // A partial zap of a 2 MiB leaf splits it first (zap_pmd_range → __split_huge_pmd).
                if (entry.IsPresent && !Frames.Has(entry.Pfn, FrameFlags.Hugetlb))
                {
                    HugeMemory.SplitHugePmdAt(p, va);
                    ZapRange(p, Math.Max(start, va), Math.Min(end, va + PageGeometry.HugeSize));
                    continue;
                }
            }
            anyPresent |= entry.IsPresent;
            ZapEntry(p, va, entry, size);
        }
        if (anyPresent) ShootDown(p, start, end - start);
        MmuNotifier.InvalidateRange(p, new Hva(start), new Hva(end));
    }

    internal void ShootDown(Process p, ulong va, ulong bytes)
    {
        p.Tlb.Invalidate(va, bytes);
        CostLedger.Add(CostKind.TlbShootdown);
    }

    /// <summary>try_to_unmap: change every host mapping of <paramref name="pfn"/>; returns how many changed.</summary>
    public int TryToUnmap(Pfn pfn, UnmapFlags flags)
    {
        CostLedger.Add(CostKind.RmapWalk);
        _rmapScratch.Clear();
        Rmap.Collect(pfn, _rmapScratch);
        var head = Head(pfn);
        if (head != pfn)
        {
            var from = _rmapScratch.Count;
            Rmap.Collect(head, _rmapScratch);
            for (var i = from; i < _rmapScratch.Count; i++)
                if (_rmapScratch[i].Size != MappingSize.Size2M) _rmapScratch.RemoveAt(i--);
        }
        // A pooled copy: unmapping changes the rmap (and may re-enter through put_page → free hooks).
        var targets = _listPool.Count > 0 ? _listPool.Pop() : new List<RmapEntry>();
        targets.Clear();
        targets.AddRange(_rmapScratch);
        var changed = 0;
        foreach (var (pid, mappedVa, size) in targets)
        {
            var p = FindProcess(pid);
            if (p is null) continue;
            var va = mappedVa;
            var isHugetlb = Frames.Has(head, FrameFlags.Hugetlb);
            if (size == MappingSize.Size2M && !isHugetlb)
            {
                if ((flags & UnmapFlags.SplitHugePmd) == 0) continue;
                HugeMemory.SplitHugePmdAt(p, va);
                va = mappedVa + ((pfn.Value - head.Value) << PageGeometry.PageShift);
            }
            var entry = p.PageTable.Lookup(va, out var actual);
            if (!entry.MapsFrame) continue;
            var target = entry.Pfn;
            p.PageTable.Set(va, (flags & UnmapFlags.HwPoison) != 0 ? PteValue.HwPoisonEntry(target) : PteValue.None, actual);
            Rmap.Remove(target, pid, va);
            if (actual == MappingSize.Size4K) Frames.MapCount(target)--;
            if ((flags & UnmapFlags.KeepReference) != 0 && (flags & UnmapFlags.HwPoison) != 0) Frames.HwpEntryRefs(target)++;
            else PutPage(target);
            CostLedger.Add(CostKind.Unmap);
            ShootDown(p, va, actual == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize);
            MmuNotifier.InvalidateRange(p, new Hva(va), new Hva(va + (actual == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize)));
            changed++;
        }
        _listPool.Push(targets);
        return changed;
    }

    public IReadOnlyList<(int Pid, Hva Hva)> Mappings(Pfn pfn)
    {
        var list = new List<RmapEntry>();
        Rmap.Collect(pfn, list);
        var head = Head(pfn);
        if (head != pfn)
        {
            var huge = new List<RmapEntry>();
            Rmap.Collect(head, huge);
            foreach (var h in huge)
                if (h.Size == MappingSize.Size2M) list.Add(h with { Va = h.Va + ((pfn.Value - head.Value) << PageGeometry.PageShift) });
        }
        return list.Select(e => (e.Pid, new Hva(e.Va))).ToList();
    }
}
