using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.SevSnp.Rmp;

namespace Vmm.Plugins.SevSnp.Tests.Infrastructure;

/// <summary>A simulated host with one protected VM "sev1" on sev-snp (policy none), built by hand instead of from a scenario file.</summary>
internal static class SnpMachine
{
    public const string Vm = "sev1";
    private static readonly SourceLocation Here = new("test", 0, 0);

    public static Simulation Create(IFaultDelivery faults, BackingKind backing = BackingKind.Anon)
    {
        var scenario = new Scenario
        {
            File = "test",
            Name = "sev-snp unit test",
            Vms = [new VmSpec(Vm, 8UL << 20, Protected: true, backing, Thp: false, Here)],
        };
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(new SevSnpMemoryController(contents, ledger), new NonePolicy(), faults, new RadixPageTableFactory(), Thp: null, new KernelOptions(), new CostOptions())
        {
            Contents = contents,
            Ledger = ledger,
        };
        return new Simulation(scenario, components);
    }

    public static StepSpec GuestWrite(ulong gpa, params byte[] data) => Step(new GuestWrite(data), gpa);

    public static StepSpec GuestRead(ulong gpa, ulong len) => Step(new GuestRead(len), gpa);

    public static StepSpec HostWrite(ulong gpa, params byte[] data) => Step(new HostWrite(data), gpa);

    public static StepSpec Madvise(ulong gpa, string advice) => Step(new Madvise(PageGeometry.PageSize, advice), gpa);

    public static StepSpec HostReadOf(ulong gpa, ulong len) => Step(new HostRead(len), gpa);

    public static StepSpec KernelRead(ulong gpa, ulong len) => Step(new KernelRead(len), gpa);

    public static StepSpec KernelWrite(ulong gpa, params byte[] data) => Step(new KernelWrite(data), gpa);

    public static StepSpec DmaRead(ulong gpa, ulong len) => Step(new DmaRead(len), gpa);

    public static StepSpec DmaWrite(ulong gpa, params byte[] data) => Step(new DmaWrite(data), gpa);

    public static StepSpec Convert(ulong gpa, bool toPrivate) => Step(new GuestConvert(PageGeometry.PageSize, toPrivate), gpa);

    private static StepSpec Step(StepOp op, ulong? gpa) => new() { Index = 0, Op = op with { At = new StepAddress(Vm, gpa) }, Location = Here };
}
