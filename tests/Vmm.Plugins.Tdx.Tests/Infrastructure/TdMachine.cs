using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.None;

namespace Vmm.Plugins.Tdx.Tests.Infrastructure;

/// <summary>A simulated host with one protected VM "td1" (policy none), built by hand instead of from a scenario file.</summary>
internal static class TdMachine
{
    public const string Td = "td1";
    private static readonly SourceLocation Here = new("test", 0, 0);

    /// <param name="memory">Builds the controller on the machine's DRAM contents and ledger.</param>
    public static Simulation Create(Func<IPhysicalMemory, ICostLedger, IMemoryController> memory, IFaultDelivery faults, ulong vmBytes = 8UL << 20, BackingKind backing = BackingKind.Shmem)
    {
        var scenario = new Scenario
        {
            File = "test",
            Name = "tdx unit test",
            Vms = [new VmSpec(Td, vmBytes, Protected: true, backing, Thp: false, Here)],
        };
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(memory(contents, ledger), new NonePolicy(), faults, new RadixPageTableFactory(), Thp: null, new KernelOptions(), new CostOptions())
        {
            Contents = contents,
            Ledger = ledger,
        };
        return new Simulation(scenario, components);
    }

    public static StepSpec GuestWrite(ulong gpa, params byte[] data) => Step(new GuestWrite(data), gpa);

    public static StepSpec GuestRead(ulong gpa, ulong len) => Step(new GuestRead(len), gpa);

    public static StepSpec HostWrite(ulong gpa, params byte[] data) => Step(new HostWrite(data), gpa);

    public static StepSpec HostRead(ulong gpa, ulong len) => Step(new HostRead(len), gpa);

    public static StepSpec KernelRead(ulong gpa, ulong len, string? requester = null) => Step(new KernelRead(len, requester), gpa);

    public static StepSpec DmaRead(ulong gpa, ulong len) => Step(new DmaRead(len), gpa);

    public static StepSpec Destroy() => Step(new VmDestroy(), null);

    private static StepSpec Step(StepOp op, ulong? gpa) => new() { Index = 0, Op = op with { At = new StepAddress(Td, gpa) }, Location = Here };
}
