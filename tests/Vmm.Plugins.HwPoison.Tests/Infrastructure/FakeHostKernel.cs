using Vmm.Abstractions;

namespace Vmm.Plugins.HwPoison.Tests.Infrastructure;

/// <summary>
/// A hand-written <see cref="IHostKernel"/> holding just the per-frame state the hwpoison policies read
/// and write (flags, owner, which frame backs which gfn) and recording what they ask of the kernel
/// (unmaps, warnings, signals). Members the policies must not use throw.
/// </summary>
internal sealed class FakeHostKernel : IHostKernel
{
    public const int Pid = 100;

    private readonly Dictionary<ulong, FrameFlags> _flags = [];
    private readonly Dictionary<ulong, VmId> _owners = [];
    private readonly Dictionary<(int Vm, ulong Gfn), Pfn> _frames = [];
    private readonly List<VmInfo> _vms = [];

    public List<(Pfn Pfn, UnmapFlags Flags)> Unmaps { get; } = [];
    public List<string> Warnings { get; } = [];
    public List<(SigBusCode Code, Hva Address, int Lsb, string Reason)> Signals { get; } = [];
    public HashSet<Hva> HugeMapped { get; } = [];
    public IHugePageStrategy? HugePages { get; set; }

    /// <summary>Creates a VM (memslot at 0x7f00_0000_0000 + 1 GiB per VM) (the policy learns of it from its first hook call).</summary>
    public VmInfo AddVm(IPrivateMemoryPolicy policy, string name, bool isProtected = true, BackingKind backing = BackingKind.Shmem)
    {
        var vm = new VmInfo(new VmId(_vms.Count), name, isProtected, backing, false, 1UL << 30, new Hva(0x7f00_0000_0000UL + ((ulong)_vms.Count << 30)), KeyId.Shared);
        _vms.Add(vm);
        return vm;
    }

    /// <summary>Puts an in-use frame with <paramref name="flags"/> behind the VM's gfn.</summary>
    public Pfn AddFrame(VmInfo vm, ulong gfn, ulong pfn, FrameFlags flags = FrameFlags.SwapBacked)
    {
        var frame = new Pfn(pfn);
        _flags[pfn] = flags | FrameFlags.InUse;
        _frames[(vm.Id.Value, gfn)] = frame;
        return frame;
    }

    public KernelVersion Version => KernelVersion.Default;
    public ICostLedger Ledger => throw new NotSupportedException();
    public IMemoryController Memory => throw new NotSupportedException();
    public int VmmPid => Pid;
    public IReadOnlyList<VmInfo> Vms => _vms;
    public VmInfo GetVm(VmId vm) => _vms[vm.Value];

    public FrameFlags GetFlags(Pfn pfn) => _flags.GetValueOrDefault(pfn.Value);
    public void SetFlags(Pfn pfn, FrameFlags flags) => _flags[pfn.Value] = GetFlags(pfn) | flags;
    public void ClearFlags(Pfn pfn, FrameFlags flags) => _flags[pfn.Value] = GetFlags(pfn) & ~flags;
    public VmId GetOwner(Pfn pfn) => _owners.GetValueOrDefault(pfn.Value, VmId.None);
    public void SetOwner(Pfn pfn, VmId owner) => _owners[pfn.Value] = owner;

    public int TryToUnmap(Pfn pfn, UnmapFlags flags)
    {
        Unmaps.Add((pfn, flags));
        return 1;
    }

    public Pfn FrameOf(VmId vm, Gfn gfn)
    {
        FrameOfCalls++;
        return _frames.GetValueOrDefault((vm.Value, gfn.Value), Pfn.Invalid);
    }

    /// <summary>How often a policy looked up one gfn's frame.</summary>
    public int FrameOfCalls { get; private set; }

    public void FramesOf(VmId vm, Gfn first, Gfn end, List<(Gfn Gfn, Pfn Pfn)> into)
    {
        FramesOfCalls++;
        var pages = _vms[vm.Value].MemoryBytes >> PageGeometry.PageShift;
        foreach (var ((id, gfn), pfn) in _frames.OrderBy(f => f.Key.Gfn))
            if (id == vm.Value && gfn >= first.Value && gfn < end.Value && gfn < pages) into.Add((new Gfn(gfn), pfn));
    }

    /// <summary>How often a policy asked for the frames of a range.</summary>
    public int FramesOfCalls { get; private set; }
    public bool IsHugeMapped(int pid, Hva hva) => pid == Pid && HugeMapped.Contains(hva);
    public void SignalVmm(SigBusCode code, Hva address, int lsb, string reason) => Signals.Add((code, address, lsb, reason));
    public void Warn(string message) => Warnings.Add(message);

    public int RefCount(Pfn pfn) => throw new NotSupportedException();
    public int MapCount(Pfn pfn) => throw new NotSupportedException();
    public void GetPage(Pfn pfn) => throw new NotSupportedException();
    public void PutPage(Pfn pfn) => throw new NotSupportedException();
    public IReadOnlyList<(int Pid, Hva Hva)> Mappings(Pfn pfn) => throw new NotSupportedException();
    public void ZapEpt(VmId vm, Gfn gfn) => throw new NotSupportedException();
    public bool SplitHugePmd(int pid, Hva hva) => throw new NotSupportedException();
    public bool SplitHugePage(Pfn pfn) => throw new NotSupportedException();
    public void SetVmmMemoryProtNone(VmId vm, bool protNone) => throw new NotSupportedException();
}
