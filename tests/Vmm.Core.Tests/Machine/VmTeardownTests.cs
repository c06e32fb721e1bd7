using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

public class VmTeardownTests
{
    [Theory]
    [InlineData(BackingKind.Anon)]
    [InlineData(BackingKind.Shmem)]
    public void VmDestroy_ReturnsEveryFrameToTheAllocator(BackingKind backing)
    {
        var m = TestMachine.Create(backing);
        for (ulong i = 0; i < 8; i++) Expect.Ok(m.HostWrite(i * TestMachine.Page, (byte)(i + 1)));
        Expect.Ok(m.GuestWrite(9 * TestMachine.Page, [1]));
        Assert.True(m.Kernel.Mm.Allocator.AllocatedFrames > 9);

        Expect.Ok(m.Run("vm.destroy"));

        Assert.Equal(1, m.Kernel.Mm.Allocator.AllocatedFrames); // only the zero page
        Assert.Equal(0, m.Kernel.Mm.Rmap.LiveNodes);
        Expect.Error(Errno.ENODEV, m.GuestRead(0, 1));
    }

    [Fact]
    public void VmDestroy_WhileASecondMappingUsesTheFile_KeepsThePagesUntilThatMappingGoes()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(0, 7));
        var second = (ulong)(m.Run("host.mmap-backing", offset: 0, size: 4 * TestMachine.MiB).Count ?? throw new InvalidOperationException("no hva"));

        Expect.Ok(m.Run("vm.destroy"));

        Assert.Equal(TestMachine.Bytes(7, 4), Expect.Data(m.HostReadAt(second, 4))); // memfd pages live on while mapped
        Assert.True(m.Kernel.Mm.Allocator.AllocatedFrames > 1);
        Expect.Ok(m.Run("host.munmap", null, hva: second, size: 4 * TestMachine.MiB));
        Assert.Equal(1, m.Kernel.Mm.Allocator.AllocatedFrames); // last user gone: truncated, frames back
    }

    [Fact]
    public void VmDestroy_AfterPartialMunmap_StillUnmapsAndFreesTheRest()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(0, 1));
        Expect.Ok(m.HostWrite(2 * TestMachine.Page, 2));
        Expect.Ok(m.Munmap(TestMachine.Page, TestMachine.Page)); // splits the memslot's VMA in two

        Expect.Ok(m.Run("vm.destroy"));

        Assert.True(m.VmmPte(0).IsNone);
        Assert.True(m.VmmPte(2 * TestMachine.Page).IsNone);
        Assert.Equal(1, m.Kernel.Mm.Allocator.AllocatedFrames);
        Assert.Null(m.VmmProcess.FindVma(m.HvaOf(0)));
    }

    [Fact]
    public void VmmExitThenVmDestroy_LeaksOnlyThePoisonedFrame()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        for (ulong i = 0; i < 4; i++) Expect.Ok(m.HostWrite(i * TestMachine.Page, 1));
        var poisoned = m.FrameOf(TestMachine.Page);
        Expect.Ok(m.Madvise(TestMachine.Page, TestMachine.Page, "HWPOISON"));

        Expect.Ok(m.Run("host.exit", null));
        Expect.Ok(m.Run("vm.destroy"));

        Assert.Equal(2, m.Kernel.Mm.Allocator.AllocatedFrames); // the zero page and the poisoned frame
        Assert.False(m.Kernel.Mm.Allocator.IsFree(poisoned));
        Assert.Equal(1, m.Kernel.Mm.RefCount(poisoned));
        Expect.Error(Errno.ESRCH, m.HostRead(0));
    }

    [Fact]
    public void Munmap_OfHwPoisonEntry_DropsItWithoutSignal()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(0, 1));
        Expect.Ok(m.MemoryError(0));

        Expect.Ok(m.Munmap(0, TestMachine.Page));

        Assert.True(m.VmmPte(0).IsNone);
        Assert.Empty(m.Simulation.LastEvents);
        Expect.Kind(OutcomeKind.Killed, m.HostRead(0)); // no VMA any more: SIGSEGV
    }

    [Fact]
    public void Fork_AfterMemoryFailure_ChildInheritsTheHwPoisonEntry()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(0, 1));
        var pfn = m.FrameOf(0);
        Expect.Ok(m.MemoryError(0));

        Expect.Ok(m.Fork());

        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.LastChild.PageTable.Lookup(m.HvaOf(0), out _));
        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.UserAccess(m.LastChild, m.HvaOf(0), new byte[1], write: true));
        m.Kernel.Syscalls.Exit(m.LastChild); // K10: the entry is dropped, nothing is signalled

        Assert.True(m.LastChild.PageTable.Lookup(m.HvaOf(0), out _).IsNone);
        Assert.Equal(1, m.Kernel.Mm.RefCount(pfn));
    }
}
