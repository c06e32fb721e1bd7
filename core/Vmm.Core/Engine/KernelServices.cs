using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine;

/// <summary>
/// The kernel's services for one run's components: one per run scope, so components take them in their
/// constructors before the machine exists; the run's <see cref="HostKernel"/> binds itself when it is built.
/// A component that calls a service from its constructor gets an <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class KernelServices : IFrameMetadata, IUnmapService, IThpMechanics, IHugePmdMechanics, IVmmControl, IKernelLog, IVmmMemory, ICostLedger
{
    private HostKernel? _kernel;

    internal void Bind(HostKernel kernel)
    {
        if (_kernel is not null) throw new InvalidOperationException("These kernel services already belong to a machine: a run's components serve one machine.");
        _kernel = kernel;
    }

    private HostKernel Kernel => _kernel ?? throw new InvalidOperationException("A kernel service was used before the run's machine was built (from a component's constructor?).");

    public FrameFlags GetFlags(Pfn pfn) => Kernel.Mm.GetFlags(pfn);
    public void SetFlags(Pfn pfn, FrameFlags flags) => Kernel.Mm.SetFlags(pfn, flags);
    public void ClearFlags(Pfn pfn, FrameFlags flags) => Kernel.Mm.ClearFlags(pfn, flags);
    public VmId GetOwner(Pfn pfn) => Kernel.Mm.GetOwner(pfn);
    public void SetOwner(Pfn pfn, VmId owner) => Kernel.Mm.SetOwner(pfn, owner);

    public int TryToUnmap(Pfn pfn, UnmapFlags flags) => Kernel.Mm.TryToUnmap(pfn, flags);

    public bool IsHugeMapped(Hva hva) => Kernel.HugeMemory.IsHugeMapped(Kernel.Vmm.Pid, hva);
    public bool SplitHugePage(Pfn pfn) => Kernel.HugeMemory.SplitHugePage(pfn);
    public IHugePageStrategy? Strategy => Kernel.Thp;

    public bool SplitHugePmd(Hva hva) => Kernel.HugeMemory.SplitHugePmd(Kernel.Vmm.Pid, hva);
    public bool PoisonHugePmd(Hva hva) => Kernel.HugeMemory.PoisonHugePmd(Kernel.Vmm, hva);
    public bool RemapHugePmd(Hva hva) => Kernel.HugeMemory.RemapHugePmd(Kernel.Vmm, hva);
    public HugeRangeState RangeState(Hva hva) => Kernel.HugeMemory.RangeState(Kernel.Vmm, hva);

    public VmInfo GetVm(VmId vm) => Kernel.Kvm.GetVm(vm);
    public void FramesOf(VmId vm, Gfn first, Gfn end, List<(Gfn Gfn, Pfn Pfn)> into) => Kernel.Kvm.FramesOf(vm, first, end, into);
    public void SetMemslotProtNone(VmId vm, bool protNone) => Kernel.Kvm.SetVmmMemoryProtNone(vm, protNone);
    public void SignalVmm(SigBusCode code, Hva address, int lsb, string reason) => Kernel.SignalVmm(code, address, lsb, reason);

    public void Warn(string message) => Kernel.Warn(message);

    public void Add(CostKind kind, long count = 1) => Kernel.CostLedger.Add(kind, count);

    public long Count(CostKind kind) => Kernel.CostLedger.Count(kind);

    public double ModelledNanoseconds => Kernel.CostLedger.ModelledNanoseconds;

    public Errno PunchHole(VmId vm, VmFile file, Gpa gpa, ulong size) => Kernel.Syscalls.VmPunchHole(Kernel.Kvm.VmList[vm.Value], file, gpa.Value, size);
    public void UnmapMappingRange(VmId vm, VmFile file, Gpa gpa, ulong size) => Kernel.Syscalls.VmUnmapMappingRange(Kernel.Kvm.VmList[vm.Value], file, gpa.Value, size);
    public Errno MapAnonymous(VmId vm, Gpa gpa, ulong size) => Kernel.Syscalls.VmMapAnonymous(Kernel.Kvm.VmList[vm.Value], gpa.Value, size);
    public Errno MapBacking(VmId vm, Gpa gpa, ulong size, bool guest) => Kernel.Syscalls.VmMapBacking(Kernel.Kvm.VmList[vm.Value], gpa.Value, size, guest);
}
