using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;

namespace Vmm.Core.Tests.Infrastructure;

/// <summary>What a <see cref="TestMachine"/> is built from; every part defaults to the Baseline components.</summary>
internal sealed record MachineSetup
{
    public IReadOnlyList<VmSpec> Vms { get; init; } = [TestMachine.Vm(TestMachine.DefaultVm)];
    public KernelVersion Kernel { get; init; } = KernelVersion.Default;
    public KernelOptions Options { get; init; } = new();
    /// <summary>The "kvm" options (kvm.hugeEpt).</summary>
    public KvmOptions Kvm { get; init; } = new();
    /// <summary>Builds the memory controller on the machine's DRAM contents and ledger (default plain).</summary>
    public Func<IPhysicalMemory, ICostLedger, IMemoryController>? Memory { get; init; }
    public IPrivateMemoryPolicy? Policy { get; init; }
    /// <summary>Builds the policy from the machine's kernel services (wins over <see cref="Policy"/>).</summary>
    public Func<KernelServices, IPrivateMemoryPolicy>? PolicyFor { get; init; }
    /// <summary>Builds the huge-page strategy from the machine's kernel services (default none).</summary>
    public Func<KernelServices, IHugePageStrategy>? ThpFor { get; init; }
    public IFaultDelivery? Faults { get; init; }
    public IPageTableFactory? PageTables { get; init; }
    /// <summary>Host memory beyond the VMs' (small, so whole-frame-table sweeps stay cheap).</summary>
    public ulong Headroom { get; init; } = 16 * TestMachine.MiB;
}

/// <summary>
/// A <see cref="Simulation"/> built from a hand-made <see cref="Scenario"/>, with one-line helpers for the
/// step ops of <c>Simulation.Dispatch</c> and white-box access to the simulated kernel. Shared (linked)
/// by the test projects that have Vmm.Core's internals.
/// </summary>
internal sealed class TestMachine
{
    public const string DefaultVm = "vm0";
    public const ulong KiB = 1UL << 10;
    public const ulong MiB = 1UL << 20;
    public const ulong Page = PageGeometry.PageSize;
    public const ulong Huge = PageGeometry.HugeSize;

    private int _index;

    private TestMachine(Simulation simulation) => Simulation = simulation;

    public Simulation Simulation { get; }
    public HostKernel Kernel => Simulation.Kernel;
    public CostLedger Ledger => Simulation.Ledger;
    public Process VmmProcess => Kernel.Vmm;

    public static VmSpec Vm(string name, ulong memory = 4 * MiB, BackingKind backing = BackingKind.Anon, bool isProtected = false, bool thp = false)
        => new(name, memory, isProtected, backing, thp, new SourceLocation("test", 0, 0));

    public static TestMachine Create(MachineSetup? setup = null)
    {
        setup ??= new MachineSetup();
        var vmBytes = 0UL;
        foreach (var vm in setup.Vms) vmBytes += vm.Memory;
        var scenario = new Scenario
        {
            File = "test",
            Name = "test",
            Kernel = setup.Kernel,
            HostMemory = vmBytes + setup.Headroom,
            Vms = [.. setup.Vms],
        };
        var services = new KernelServices();
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(
            (setup.Memory ?? ((m, l) => new PlainMemoryController(m, l)))(contents, ledger),
            setup.PolicyFor?.Invoke(services) ?? setup.Policy ?? new NonePolicy(),
            setup.Faults ?? new LinuxFaultDelivery(),
            setup.PageTables ?? new RadixPageTableFactory(),
            setup.ThpFor?.Invoke(services),
            setup.Options,
            new CostOptions())
        {
            Services = services,
            Contents = contents,
            Ledger = ledger,
            Kvm = setup.Kvm,
        };
        return new TestMachine(new Simulation(scenario, components));
    }

    public static TestMachine Create(BackingKind backing, ulong memory = 4 * MiB, KernelVersion? kernel = null, KernelOptions? options = null)
        => Create(new MachineSetup
        {
            Vms = [Vm(DefaultVm, memory, backing)],
            Kernel = kernel ?? KernelVersion.Default,
            Options = options ?? new KernelOptions(),
        });

    /// <summary>Runs one step of <paramref name="op"/>; arguments the op does not take are ignored.</summary>
    public Outcome Run(string op, string? vm = DefaultVm, ulong? gpa = null, ulong? hva = null, ulong? pfn = null,
        ulong? offset = null, ulong? len = null, ulong? size = null, int? pages = null, byte[]? data = null,
        GupFlags flags = GupFlags.None, string? advice = null, bool? consumed = null, bool? shared = null, string? to = null, string? requester = null)
        => Run(Op(op, len, size, pages, data, flags, advice, consumed, shared, to, requester) with { At = new StepAddress(vm, gpa, hva, pfn, offset) });

    /// <summary>A user load/store by any process (a forked child), resolved as a step.</summary>
    public Outcome UserAccess(Process p, ulong hva, byte[] buffer, bool write) => Simulation.Run(() => Kernel.Uaccess.UserAccess(p, new Hva(hva), buffer, write));

    /// <summary>Runs one step of an op built by the test.</summary>
    public Outcome Run(StepOp op)
        => Simulation.Execute(new StepSpec { Index = _index++, Op = op, Location = new SourceLocation("test", _index, 1) });

    private static StepOp Op(string op, ulong? len, ulong? size, int? pages, byte[]? data, GupFlags flags, string? advice, bool? consumed, bool? shared, string? to, string? requester) => op switch
    {
        "guest.read" => new GuestRead(len ?? 0, shared ?? false),
        "guest.write" => new GuestWrite(data ?? [], shared ?? false),
        "guest.convert" => new GuestConvert(size ?? 0, to == "private"),
        "host.read" => new HostRead(len ?? 0),
        "host.write" => new HostWrite(data ?? []),
        "host.gup" => new HostGup(pages ?? 1, flags),
        "host.pread" => new HostPread(len ?? 0),
        "host.pwrite" => new HostPwrite(data),
        "host.procmem-read" => new ProcMemRead(len ?? 0),
        "host.procmem-write" => new ProcMemWrite(data ?? []),
        "host.process-vm-readv" => new ProcessVmReadv(len ?? 0),
        "host.madvise" => new Madvise(size ?? 0, advice ?? ""),
        "host.fallocate" => new Fallocate(size ?? 0, []),
        "host.mmap-backing" => new MmapBacking(size ?? 0),
        "host.munmap" => new Munmap(size ?? 0),
        "host.fork" => new Fork(),
        "host.exit" => new Exit(),
        "kernel.read" => new KernelRead(len ?? 0, requester),
        "kernel.write" => new KernelWrite(data ?? [], requester),
        "device.dma-read" => new DmaRead(len ?? 0),
        "device.dma-write" => new DmaWrite(data ?? []),
        "hw.memory-error" => new MemoryError(consumed ?? false),
        "hw.flip-bit" => new FlipBit(0),
        "hw.unpoison" => new Unpoison(),
        "host.mprotect" => new Mprotect(size ?? 0, "guest"),
        "thp.collapse" => new ThpCollapse(),
        "thp.split" => new ThpSplit(),
        "vm.destroy" => new VmDestroy(),
        "inspect" => new Inspect(),
        _ => throw new ArgumentException($"no test op '{op}'", nameof(op)),
    };

    public Outcome HostWrite(ulong gpa, byte[] data, string vm = DefaultVm) => Run("host.write", vm, gpa, data: data);
    public Outcome HostWrite(ulong gpa, byte value, int len = 16, string vm = DefaultVm) => HostWrite(gpa, Bytes(value, len), vm);
    public Outcome HostRead(ulong gpa, int len = 16, string vm = DefaultVm) => Run("host.read", vm, gpa, len: (ulong)len);
    public Outcome HostReadAt(ulong hva, int len = 16) => Run("host.read", null, hva: hva, len: (ulong)len);
    public Outcome GuestWrite(ulong gpa, byte[] data, string vm = DefaultVm) => Run("guest.write", vm, gpa, data: data);
    public Outcome GuestRead(ulong gpa, int len = 16, string vm = DefaultVm) => Run("guest.read", vm, gpa, len: (ulong)len);
    public Outcome Gup(ulong gpa, int pages = 1, GupFlags flags = GupFlags.None, string vm = DefaultVm) => Run("host.gup", vm, gpa, pages: pages, flags: flags);
    public Outcome MemoryError(ulong gpa, bool consumed = false, string vm = DefaultVm) => Run("hw.memory-error", vm, gpa, consumed: consumed);
    public Outcome MemoryErrorAtPfn(Pfn pfn, bool consumed = false) => Run("hw.memory-error", null, pfn: pfn.Value, consumed: consumed);
    public Outcome Madvise(ulong gpa, ulong size, string advice, string vm = DefaultVm) => Run("host.madvise", vm, gpa, size: size, advice: advice);
    public Outcome Munmap(ulong gpa, ulong size, string vm = DefaultVm) => Run("host.munmap", vm, gpa, size: size);
    public Outcome Fork() => Run("host.fork", null);
    public Outcome Pread(ulong offset, int len, string vm = DefaultVm) => Run("host.pread", vm, offset: offset, len: (ulong)len);
    public Outcome KernelRead(ulong gpa, int len = 16, string vm = DefaultVm) => Run("kernel.read", vm, gpa, len: (ulong)len);

    public IReadOnlyDictionary<string, object?> Inspect(ulong gpa, string vm = DefaultVm)
    {
        var outcome = Run("inspect", vm, gpa);
        Assert.Equal(OutcomeKind.State, outcome.Kind);
        return outcome.State!;
    }

    public Vm VmNamed(string name = DefaultVm) => Kernel.Kvm.FindVm(name) ?? throw new InvalidOperationException($"no vm {name}");
    public ulong HvaOf(ulong gpa, string vm = DefaultVm) => VmNamed(vm).Info.HvaBase.Value + gpa;
    public Pfn FrameOf(ulong gpa, string vm = DefaultVm) => Kernel.Kvm.FrameOf(VmNamed(vm).Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
    public PteValue VmmPte(ulong gpa, string vm = DefaultVm) => VmmProcess.PageTable.Lookup(HvaOf(gpa, vm), out _);
    public PteValue VmmPte(ulong gpa, out MappingSize size, string vm = DefaultVm) => VmmProcess.PageTable.Lookup(HvaOf(gpa, vm), out size);

    /// <summary>The process fork created last.</summary>
    public Process LastChild => Kernel.Processes[^1];

    /// <summary>After teardown: the first frame (the zero page aside) still allocated that no real memory error hit, or null; a leak.</summary>
    public static Pfn? FirstFrameStillAllocated(HostKernel kernel)
    {
        var frames = kernel.Mm.Frames;
        for (ulong i = 1; i < (ulong)frames.Count; i++)
        {
            var pfn = new Pfn(i);
            if (frames.Has(pfn, FrameFlags.InUse) && !frames.Has(pfn, FrameFlags.RealError)) return pfn;
        }
        return null;
    }

    public static byte[] Bytes(byte value, int len = 16)
    {
        var bytes = new byte[len];
        Array.Fill(bytes, value);
        return bytes;
    }
}
