using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;
using Xunit.Abstractions;

namespace Vmm.Core.Tests.Machine;

/// <summary>What the simulator spends per touched frame beside its 4 KiB of contents (issue 12's meta-touched row, the same measurement).</summary>
public class FrameFootprintTests(ITestOutputHelper output)
{
    private const int Pages = 4096;

    private static Simulation Simulate(ulong vmBytes)
    {
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        return new(new Scenario { File = "footprint.json", Name = "footprint", Vms = [TestMachine.Vm("vm0", vmBytes)] },
            new SimulationComponents(new PlainMemoryController(contents, ledger), new NonePolicy(), new LinuxFaultDelivery(), new RadixPageTableFactory(), null, new KernelOptions(), new CostOptions())
            {
                Contents = contents,
                Ledger = ledger,
            });
    }

    private static (long Contents, long Frames, long Rmap) Parts(Simulation simulation)
    {
        var mm = simulation.Kernel.Mm;
        return (mm.PhysicalMemory.FootprintBytes, mm.Frames.FootprintBytes, mm.Rmap.FootprintBytes);
    }

    [Fact]
    public void GuestTouchedFrames_CostAtMost16BytesOfMetadataEach()
    {
        var simulation = Simulate(1UL << 30);
        var kernel = simulation.Kernel;
        var vm = kernel.Kvm.VmList[0];
        var stride = vm.Info.MemoryBytes / Pages & ~(ulong)(PageGeometry.PageSize - 1);
        var before = Parts(simulation);
        Span<byte> data = stackalloc byte[8];
        for (var i = 0; i < Pages; i++)
        {
            BitConverter.TryWriteBytes(data, (ulong)i + 1);
            Assert.True(kernel.Kvm.TryGuestAccess(vm, (ulong)i * stride, data, write: true, shared: false, out var failure), $"page {i}: {failure}");
        }
        var after = Parts(simulation);

        var contents = (after.Contents - before.Contents - (double)Pages * PageGeometry.PageSize) / Pages;
        var frames = (after.Frames - before.Frames) / (double)Pages;
        var rmap = (after.Rmap - before.Rmap) / (double)Pages;
        output.WriteLine($"per touched frame: contents overhead {contents} B, frame table {frames} B, rmap {rmap} B, total {contents + frames + rmap} B");
        Assert.True(contents + frames + rmap <= 16, $"{contents + frames + rmap} B per touched frame (contents overhead {contents}, frame table {frames}, rmap {rmap})");
    }
}
