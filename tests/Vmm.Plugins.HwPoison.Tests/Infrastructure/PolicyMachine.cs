using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Baseline.Plain;
using Vmm.Plugins.Tdx;
using Vmm.Plugins.Tdx.Ci;

namespace Vmm.Plugins.HwPoison.Tests.Infrastructure;

/// <summary>Which memory controller a <see cref="PolicyMachine"/> runs on.</summary>
public enum MemoryKind
{
    Plain,
    TdxCi,
}

/// <summary>
/// The shared <see cref="TestMachine"/> set up with a hwpoison policy, with VM-first one-line helpers for
/// the step ops and white-box access to the simulated kernel.
/// </summary>
internal sealed class PolicyMachine
{
    public const ulong MiB = 1UL << 20;
    public const ulong Page = PageGeometry.PageSize;

    private readonly TestMachine _machine;

    private PolicyMachine(TestMachine machine) => _machine = machine;

    public Simulation Simulation => _machine.Simulation;
    public HostKernel Kernel => _machine.Kernel;
    public Process VmmProcess => _machine.VmmProcess;

    public static VmSpec Vm(string name, ulong memory = 4 * MiB, BackingKind backing = BackingKind.Shmem, bool isProtected = true)
        => TestMachine.Vm(name, memory, backing, isProtected);

    public static Func<IPhysicalMemory, ICostLedger, IMemoryController> CreateMemory(MemoryKind memory) => memory switch
    {
        MemoryKind.TdxCi => (contents, ledger) => new TdxCiMemoryController(new TdxOptions(), contents, ledger),
        _ => (contents, ledger) => new PlainMemoryController(contents, ledger),
    };

    /// <summary>A machine with <paramref name="vms"/>, the given policy (default hwpoison-v2) and fault delivery (default linux).</summary>
    public static PolicyMachine Create(IReadOnlyList<VmSpec> vms, MemoryKind memory = MemoryKind.Plain, Func<KernelServices, IPrivateMemoryPolicy>? policy = null,
        IFaultDelivery? faults = null, ulong headroom = 2 * MiB)
        => new(TestMachine.Create(new MachineSetup
        {
            Vms = vms,
            Memory = CreateMemory(memory),
            PolicyFor = policy ?? V2(),
            Faults = faults,
            Headroom = headroom,
        }));

    /// <summary>hwpoison-v2 with <paramref name="options"/>, on the machine's kernel services.</summary>
    public static Func<KernelServices, IPrivateMemoryPolicy> V2(HwPoisonOptions? options = null)
        => k => new HwPoisonV2Policy(options ?? new HwPoisonOptions(), Services(k));

    /// <summary>hwpoison-v1 with <paramref name="options"/>, on the machine's kernel services.</summary>
    public static Func<KernelServices, IPrivateMemoryPolicy> V1(HwPoisonOptions? options = null)
        => k => new HwPoisonV1Policy(options ?? new HwPoisonOptions(), Services(k));

    public static HwPoisonServices Services(KernelServices k) => new(k, k, k, k, k, k);

    /// <summary>Runs one step; absent arguments stay null as in a parsed scenario.</summary>
    public Outcome Run(string op, string? vm, ulong? gpa = null, ulong? hva = null, ulong? offset = null, ulong? len = null,
        ulong? size = null, byte[]? data = null, GupFlags flags = GupFlags.None, bool? consumed = null, bool? shared = null, string? to = null)
        => _machine.Run(op, vm, gpa, hva, offset: offset, len: len, size: size, data: data, flags: flags, consumed: consumed, shared: shared, to: to);

    public Outcome GuestWrite(string vm, ulong gpa, byte[] data, bool shared = false) => Run("guest.write", vm, gpa, data: data, shared: shared);
    public Outcome GuestRead(string vm, ulong gpa, int len = 8, bool shared = false) => Run("guest.read", vm, gpa, len: (ulong)len, shared: shared);
    public Outcome Convert(string vm, ulong gpa, ulong size, bool toPrivate) => Run("guest.convert", vm, gpa, size: size, to: toPrivate ? "private" : "shared");
    public Outcome HostRead(string vm, ulong gpa, int len = 8) => Run("host.read", vm, gpa, len: (ulong)len);
    public Outcome HostWrite(string vm, ulong gpa, byte[] data) => Run("host.write", vm, gpa, data: data);
    public Outcome MmapBacking(string vm, ulong offset, ulong size, ulong? at = null) => Run("host.mmap-backing", vm, offset: offset, size: size, hva: at);

    /// <summary>A user load/store by any process (a forked child), resolved as a step.</summary>
    public Outcome UserAccess(Process p, ulong hva, byte[] buffer, bool write) => _machine.UserAccess(p, hva, buffer, write);

    public Vm VmNamed(string name) => Kernel.Kvm.FindVm(name) ?? throw new InvalidOperationException($"no vm {name}");
    public ulong HvaOf(string vm, ulong gpa) => VmNamed(vm).Info.HvaBase.Value + gpa;
    public Pfn FrameOf(string vm, ulong gpa) => Kernel.Kvm.FrameOf(VmNamed(vm).Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
    public PteValue VmmPte(string vm, ulong gpa) => VmmProcess.PageTable.Lookup(HvaOf(vm, gpa), out _);

    public static byte[] Bytes(byte value, int len = 8)
    {
        var bytes = new byte[len];
        Array.Fill(bytes, value);
        return bytes;
    }
}
