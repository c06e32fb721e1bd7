using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;

namespace Vmm.Core.Machine;

/// <summary>
/// The simulated host kernel as a composition root: it builds the subsystems in dependency order (memory
/// management, page cache, KVM, memory_failure, THP, syscalls, the fault handler, user access), keeps the processes and
/// backing files, and collects the step's events and warnings. Single-threaded; behaviour follows docs/semantics.md.
/// </summary>
internal sealed class HostKernel
{
    private readonly List<Process> _processes = [];
    private readonly List<BackingFile> _files = [];
    private readonly IPageTableFactory _pageTables;
    private int _nextPid = 100;

    public HostKernel(long frameCount, SimulationComponents components, KernelVersion version, CostLedger ledger)
    {
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
        GuestMemorySourcePolicy = Policy as IGuestMemorySourcePolicy ?? KernelDefaults.Instance;
        PageCachePolicy = Policy as IPageCachePolicy ?? KernelDefaults.Instance;
        Thp = components.Thp;
        Memory = components.Memory;
        _pageTables = components.PageTables;
        Mm = new MemoryManager(this, frameCount, components.Contents);
        PageCache = new PageCache(Mm, ledger);
        Vmm = NewProcess("vmm");
        Kvm = new Kvm(this, _pageTables) { HugeEpt = components.Kvm.HugeEpt };
        MemoryFailure = new MemoryFailure(this);
        HugeMemory = new HugeMemory(this);
        Syscalls = new Syscalls(this);
        FaultHandler = new FaultHandler(this);
        Uaccess = new Uaccess(this);
        components.Services.Bind(this);
    }

    internal CostLedger CostLedger { get; }

    /// <summary>
    /// The controller's direct grants to the soft TLBs (guest and host), when it gives them to this machine's ledger: the
    /// plain-DRAM accesses are then done by the hits themselves, charged as the controller would.
    /// </summary>
    internal IDirectFrameAccess? DirectFrames => Memory is IDirectFrameAccess direct && ReferenceEquals(direct.Ledger, CostLedger) ? direct : null;
    internal KernelOptions Options { get; }
    internal IPrivateMemoryPolicy Policy { get; }
    internal IGuestFaultPolicy GuestFaultPolicy { get; }
    internal IHwPoisonEntryPolicy HwPoisonEntryPolicy { get; }
    internal IVmmMappingPolicy VmmMappingPolicy { get; }
    internal IConversionPolicy ConversionPolicy { get; }
    internal IFrameLifecyclePolicy FrameLifecyclePolicy { get; }
    internal IGuestMemorySourcePolicy GuestMemorySourcePolicy { get; }
    internal IPageCachePolicy PageCachePolicy { get; }
    internal IHugePageStrategy? Thp { get; }
    internal Process Vmm { get; }
    internal MmuNotifier MmuNotifier { get; } = new();
    internal MemoryManager Mm { get; }
    internal PageCache PageCache { get; }
    internal Kvm Kvm { get; }
    internal MemoryFailure MemoryFailure { get; }
    internal HugeMemory HugeMemory { get; }
    internal Syscalls Syscalls { get; }
    internal FaultHandler FaultHandler { get; }
    internal Uaccess Uaccess { get; }
    internal IReadOnlyList<Process> Processes => _processes;

    /// <summary>Events raised during the current step, in order.</summary>
    internal List<KernelEvent> Events { get; } = [];
    /// <summary>Frames the current step reached (for the lost-error metric).</summary>
    internal StepFrames StepFrames { get; } = new();
    internal List<string> WarningLog { get; } = [];
    /// <summary>The machine ended (host panic or shutdown).</summary>
    internal bool Dead { get; private set; }

    public KernelVersion Version { get; }
    public IMemoryController Memory { get; }
    public int VmmPid => Vmm.Pid;

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

    /// <summary>Raises the event a call faulted with and returns it as the call's result (the outcome resolver delivers it).</summary>
    internal KernelResult Fault(in KernelEvent e)
    {
        Raise(e);
        return KernelResult.FaultedWith(e);
    }

    public void Warn(string message) => WarningLog.Add(message);

    public void SignalVmm(SigBusCode code, Hva address, int lsb, string reason)
        => Raise(KernelEvent.SigBus(Vmm.Pid, code, address, lsb, SignalContext.Async, default, reason));
}
