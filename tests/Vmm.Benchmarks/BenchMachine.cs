using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;

namespace Vmm.Benchmarks;

/// <summary>The machine every benchmark runs on: baseline components, one anon VM "vm0", default host memory.</summary>
internal static class BenchMachine
{
    public const string VmName = "vm0";

    public static Simulation Create(ulong vmBytes)
    {
        var scenario = new Scenario
        {
            File = "benchmark",
            Name = $"benchmark-{vmBytes >> 20}M",
            Vms = [new VmSpec(VmName, vmBytes, Protected: false, BackingKind.Anon, Thp: false, new SourceLocation("benchmark", 0, 0))],
        };
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(
            new PlainMemoryController(contents, ledger),
            new NonePolicy(),
            new LinuxFaultDelivery(),
            new RadixPageTableFactory(),
            Thp: null,
            new KernelOptions(),
            new CostOptions())
        {
            Contents = contents,
            Ledger = ledger,
        };
        return new Simulation(scenario, components);
    }

    /// <summary>Writes 8 bytes through a vCPU into <paramref name="pages"/> pages spread evenly over the VM.</summary>
    public static void TouchSpread(Simulation simulation, int pages)
    {
        var kernel = simulation.Kernel;
        var vm = kernel.Kvm.VmList[0];
        var stride = vm.Info.MemoryBytes / (ulong)pages & ~(ulong)(PageGeometry.PageSize - 1);
        Span<byte> data = stackalloc byte[8];
        for (var i = 0; i < pages; i++)
        {
            BitConverter.TryWriteBytes(data, (ulong)i + 1);
            if (!kernel.Kvm.TryGuestAccess(vm, (ulong)i * stride, data, write: true, shared: false, out var failure))
                throw new InvalidOperationException($"touching page {i} failed: {failure}");
        }
    }
}
