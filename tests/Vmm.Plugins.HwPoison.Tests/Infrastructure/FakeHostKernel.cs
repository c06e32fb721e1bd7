using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Plugins.HwPoison.Tests.Infrastructure;

/// <summary>
/// A hand-written set of the kernel services (frame metadata, unmapping, THP mechanics, VMM control, log) holding just the per-frame state the hwpoison policies read
/// and write (flags, owner, which frame backs which gfn) and recording what they ask of the kernel
/// (unmaps, warnings, signals).
/// </summary>
internal sealed class FakeHostKernel : IFrameMetadata, IUnmapService, IThpMechanics, IVmmControl, IKernelLog
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
    public IHugePageStrategy? Strategy { get; set; }

    /// <summary>This fake as the services a hwpoison policy takes.</summary>
    public HwPoisonServices Services => new(this, this, this, this, this, Ledger);

    /// <summary>What the policy counted (mmu_lock write acquisitions among them).</summary>
    public CostLedger Ledger { get; } = new();

    /// <summary>Creates a VM (memslot at 0x7f00_0000_0000 + 1 GiB per VM).</summary>
    public VmInfo AddVm(string name, bool isProtected = true, BackingKind backing = BackingKind.Shmem)
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

    public void FramesOf(VmId vm, Gfn first, Gfn end, List<(Gfn Gfn, Pfn Pfn)> into)
    {
        FramesOfCalls++;
        var pages = _vms[vm.Value].MemoryBytes >> PageGeometry.PageShift;
        foreach (var ((id, gfn), pfn) in _frames.OrderBy(f => f.Key.Gfn))
            if (id == vm.Value && gfn >= first.Value && gfn < end.Value && gfn < pages) into.Add((new Gfn(gfn), pfn));
    }

    /// <summary>How often a policy asked for the frames of a range.</summary>
    public int FramesOfCalls { get; private set; }
    public bool IsHugeMapped(Hva hva) => HugeMapped.Contains(hva);
    public void SignalVmm(SigBusCode code, Hva address, int lsb, string reason) => Signals.Add((code, address, lsb, reason));
    public void Warn(string message) => Warnings.Add(message);

    public bool SplitHugePage(Pfn pfn) => throw new NotSupportedException("the hwpoison policies leave splitting to the huge-page strategy");
    public void SetMemslotProtNone(VmId vm, bool protNone) => throw new NotSupportedException("hwpoison never changes the memslot's protection");
}
