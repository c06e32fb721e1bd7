using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.None;

namespace Vmm.Plugins.Tdx.Tests.Infrastructure;

/// <summary>A simulated host with one protected VM "td1" (policy none), built by hand instead of from a scenario file.</summary>
internal static class TdMachine
{
    public const string Td = "td1";
    private static readonly SourceLocation Here = new("test", 0, 0);

    public static Simulation Create(IMemoryController memory, IFaultDelivery faults, ulong vmBytes = 8UL << 20, BackingKind backing = BackingKind.Shmem)
    {
        var scenario = new Scenario
        {
            File = "test",
            Name = "tdx unit test",
            Vms = [new VmSpec(Td, vmBytes, Protected: true, backing, Thp: false, Here)],
        };
        var components = new SimulationComponents(memory, new NonePolicy(), faults, new RadixPageTableFactory(), Thp: null, new KernelOptions(), new CostOptions());
        return new Simulation(scenario, components);
    }

    public static StepSpec GuestWrite(ulong gpa, params byte[] data) => new() { Index = 0, Op = "guest.write", Vm = Td, Gpa = gpa, Data = data, Location = Here };

    public static StepSpec GuestRead(ulong gpa, ulong len) => new() { Index = 0, Op = "guest.read", Vm = Td, Gpa = gpa, Len = len, Location = Here };

    public static StepSpec HostWrite(ulong gpa, params byte[] data) => new() { Index = 0, Op = "host.write", Vm = Td, Gpa = gpa, Data = data, Location = Here };

    public static StepSpec HostRead(ulong gpa, ulong len) => new() { Index = 0, Op = "host.read", Vm = Td, Gpa = gpa, Len = len, Location = Here };

    public static StepSpec KernelRead(ulong gpa, ulong len, string? requester = null)
        => new() { Index = 0, Op = "kernel.read", Vm = Td, Gpa = gpa, Len = len, Requester = requester, Location = Here };

    public static StepSpec DmaRead(ulong gpa, ulong len) => new() { Index = 0, Op = "device.dma-read", Vm = Td, Gpa = gpa, Len = len, Location = Here };

    public static StepSpec Destroy() => new() { Index = 0, Op = "vm.destroy", Vm = Td, Location = Here };
}
