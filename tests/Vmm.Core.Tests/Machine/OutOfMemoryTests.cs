using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// A host whose free frames run out: what Linux does, never an exception. A user page the allocator cannot
/// find means the OOM killer chose the VMM (SIGKILL); hugetlbfs with no free huge page is SIGBUS.
/// </summary>
public class OutOfMemoryTests
{
    private const ulong MiB = TestMachine.MiB;
    private const ulong Page = TestMachine.Page;

    /// <summary>A 4 MiB VM on a host of exactly 4 MiB: the zero page takes frame 0, so one guest page can never get a frame.</summary>
    private static TestMachine Overcommitted(BackingKind backing)
        => TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, 4 * MiB, backing)], Headroom = 0 });

    private static void FillAllButTheLastPage(TestMachine m)
    {
        for (var gpa = 0UL; gpa < 4 * MiB - Page; gpa += Page) Expect.Ok(m.HostWrite(gpa, 1, 1));
        Assert.Equal(Pfn.Invalid, m.Kernel.Mm.Allocator.Allocate());
    }

    private static void Killed(Outcome outcome)
        => Assert.True(outcome.Kind == OutcomeKind.Killed && outcome.Signal == "SIGKILL", $"expected killed SIGKILL, got {outcome}");

    [Theory]
    [InlineData(BackingKind.Anon)]
    [InlineData(BackingKind.Shmem)]
    [InlineData(BackingKind.File)]
    public void HostWrite_WithNoFreeFrame_IsTheOomKillersSigkill(BackingKind backing)
    {
        var m = Overcommitted(backing);
        FillAllButTheLastPage(m);

        Killed(m.HostWrite(4 * MiB - Page, 1, 1));

        var kill = Assert.Single(m.Simulation.LastEvents, e => e.Kind == KernelEventKind.SigKill);
        Assert.Equal(m.VmmProcess.Pid, kill.Pid);
    }

    [Fact]
    public void GuestWrite_WithNoFreeFrame_IsTheOomKillersSigkillNotEfault()
    {
        var m = Overcommitted(BackingKind.Anon);
        FillAllButTheLastPage(m);

        Killed(m.GuestWrite(4 * MiB - Page, [1]));
    }

    [Fact]
    public void Gup_WithNoFreeFrame_IsTheOomKillersSigkill()
    {
        var m = Overcommitted(BackingKind.Shmem);
        FillAllButTheLastPage(m);

        Killed(m.Gup(4 * MiB - Page, flags: GupFlags.Write));
    }

    [Theory]
    [InlineData("kernel.write")]
    [InlineData("hw.memory-error")]
    [InlineData("hw.flip-bit")]
    public void FrameOps_OnAnUnpopulatedPageWithNoFreeFrame_AreTheOomKillersSigkillNotABadInputError(string op)
    {
        var m = Overcommitted(BackingKind.Anon);
        FillAllButTheLastPage(m);

        Killed(m.Run(op, gpa: 4 * MiB - Page, data: op == "kernel.write" ? [1] : null));
    }

    [Fact]
    public void HostRead_OfAnUntouchedPage_StillWorksWithNoFreeFrame()
    {
        var m = Overcommitted(BackingKind.Anon);
        FillAllButTheLastPage(m);

        Assert.Equal(new byte[4], Expect.Data(m.HostRead(4 * MiB - Page, 4))); // the zero page needs no frame
    }

    [Fact]
    public void HugetlbFault_WithNoFreeHugePage_IsSigbus()
    {
        var m = Overcommitted(BackingKind.Hugetlb); // two huge pages asked for; frame 0 (the zero page) spoils the lower run
        Expect.Ok(m.HostWrite(0, 1, 1));

        var outcome = m.HostWrite(2 * MiB, 1, 1);

        Expect.SigBus(SigBusCode.BUS_ADRERR, 0, outcome);
        Assert.DoesNotContain(m.Simulation.LastEvents, e => e.Kind == KernelEventKind.SigKill);
    }

    [Fact]
    public void Fallocate_WithNoFreeFrame_IsEnospc()
    {
        var m = Overcommitted(BackingKind.Shmem);
        FillAllButTheLastPage(m);

        Expect.Error(Errno.ENOSPC, m.Run("host.fallocate", offset: 0, size: 4 * MiB));
    }
}
