using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>Memory management reports mapping changes through <see cref="MmuNotifier"/>; KVM's EPTs come from the page-table component.</summary>
public class MmuNotifierTests
{
    private sealed class Recorder : IMmuNotifierSubscriber
    {
        public List<(Hva Start, Hva End)> Ranges { get; } = [];

        public void InvalidateRange(Hva start, Hva end) => Ranges.Add((start, end));
    }

    private sealed class CountingFactory : IPageTableFactory
    {
        public int Created { get; private set; }

        public IPageTable Create()
        {
            Created++;
            return new RadixPageTable();
        }
    }

    [Fact]
    public void Munmap_OfAProcessWithASubscriber_InvalidatesExactlyTheRange()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(0, 0x11));
        var recorder = new Recorder();
        m.Kernel.MmuNotifier.Register(m.VmmProcess, recorder);

        Expect.Ok(m.Munmap(0x3000, 2 * TestMachine.Page));

        Assert.Equal([(new Hva(m.HvaOf(0x3000)), new Hva(m.HvaOf(0x5000)))], recorder.Ranges);
    }

    [Fact]
    public void InvalidateRange_ReachesOnlyTheProcessesSubscribers()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(0, 0x11));
        Expect.Ok(m.Fork());
        var child = m.LastChild;
        var onChild = new Recorder();
        var onVmm = new Recorder();
        m.Kernel.MmuNotifier.Register(child, onChild);
        m.Kernel.MmuNotifier.Register(m.VmmProcess, onVmm);

        m.Kernel.Mm.ZapRange(child, new Hva(m.HvaOf(0)), new Hva(m.HvaOf(TestMachine.Page)));

        Assert.Equal([(new Hva(m.HvaOf(0)), new Hva(m.HvaOf(TestMachine.Page)))], onChild.Ranges);
        Assert.Empty(onVmm.Ranges);
    }

    [Fact]
    public void EveryPageTable_IncludingEachVmsEpt_ComesFromThePageTableComponent()
    {
        var factory = new CountingFactory();
        var m = TestMachine.Create(new MachineSetup { PageTables = factory, Vms = [TestMachine.Vm("a"), TestMachine.Vm("b")] });

        // The VMM's page table and one EPT per VM.
        Assert.Equal(1 + 2, factory.Created);
        Assert.NotSame(m.VmNamed("a").Ept, m.VmNamed("b").Ept);
    }
}
