using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>The EPT must follow the VMM's page tables (KVM's mmu notifier): guest and VMM see the same memory.</summary>
public class EptCoherenceTests
{
    [Fact]
    public void GuestRead_OfUntouchedAnonPage_MapsTheZeroPageReadOnlyInTheEpt()
    {
        var m = TestMachine.Create();

        Assert.Equal(new byte[4], Expect.Data(m.GuestRead(0, 4)));

        var ept = m.VmNamed().Ept.Lookup(0, out _);
        Assert.Equal(FrameAllocator.ZeroPage, ept.Pfn);
        Assert.False(ept.IsWritable);
    }

    [Fact]
    public void GuestWrite_AfterGuestReadOfZeroPage_BreaksCowInsteadOfWritingTheZeroPage()
    {
        var m = TestMachine.Create();
        Expect.Data(m.GuestRead(0, 4));

        Expect.Ok(m.GuestWrite(0, [7, 7, 7, 7]));

        Assert.NotEqual(FrameAllocator.ZeroPage, m.FrameOf(0));
        Assert.True(m.Kernel.Mm.PhysicalMemory.Peek(FrameAllocator.ZeroPage).IsEmpty);
        Assert.Equal(new byte[4], Expect.Data(m.HostRead(TestMachine.Page, 4)));
        Assert.Equal(new byte[4], Expect.Data(m.GuestRead(TestMachine.Page, 4)));
        Assert.Equal([7, 7, 7, 7], Expect.Data(m.HostRead(0, 4)));
    }

    [Fact]
    public void HostWrite_AfterGuestReadOfZeroPage_IsSeenByTheGuest()
    {
        var m = TestMachine.Create();
        Expect.Data(m.GuestRead(0, 4));

        Expect.Ok(m.HostWrite(0, 5, len: 4));

        Assert.Equal(TestMachine.Bytes(5, 4), Expect.Data(m.GuestRead(0, 4)));
    }

    [Fact]
    public void GuestWrite_AfterFork_DoesNotLeakIntoTheChild()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(0, TestMachine.Bytes(0xA, 4)));
        Expect.Ok(m.Fork());
        var child = m.LastChild;

        Expect.Ok(m.GuestWrite(0, TestMachine.Bytes(0xB, 4)));

        var childView = Expect.Data(m.UserAccess(child, m.HvaOf(0), new byte[4], write: false));
        Assert.Equal(TestMachine.Bytes(0xA, 4), childView);
        Assert.Equal(TestMachine.Bytes(0xB, 4), Expect.Data(m.HostRead(0, 4)));
    }

    [Fact]
    public void HostWrite_AfterFork_IsSeenByTheGuest()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(0, TestMachine.Bytes(0xA, 4)));
        Expect.Ok(m.Fork());
        Expect.Data(m.GuestRead(0, 4));

        Expect.Ok(m.HostWrite(0, 0xC, len: 4));

        Assert.Equal(TestMachine.Bytes(0xC, 4), Expect.Data(m.GuestRead(0, 4)));
        Assert.Equal(TestMachine.Bytes(0xA, 4), Expect.Data(m.UserAccess(m.LastChild, m.HvaOf(0), new byte[4], write: false)));
    }

    [Fact]
    public void Fork_CountsTheEptZapAsAShootdown()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(0, [1]));
        var before = m.Ledger.Count(CostKind.TlbShootdown);

        Expect.Ok(m.Fork());

        Assert.True(m.VmNamed().Ept.Lookup(0, out _).IsNone);
        Assert.Equal(before + 2, m.Ledger.Count(CostKind.TlbShootdown)); // the VMM's TLB and the EPT
    }

    [Fact]
    public void SoftOffline_OfAGuestPage_MovesTheGuestToTheNewFrameToo()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(0, TestMachine.Bytes(0xA, 4)));
        var old = m.FrameOf(0);

        Expect.Ok(m.Madvise(0, TestMachine.Page, "SOFT_OFFLINE"));
        Expect.Ok(m.GuestWrite(0, TestMachine.Bytes(0xB, 4)));

        Assert.NotEqual(old, m.FrameOf(0));
        Assert.Equal(TestMachine.Bytes(0xB, 4), Expect.Data(m.HostRead(0, 4)));
        Assert.NotEqual(old, m.VmNamed().Ept.Lookup(0, out _).Pfn);
    }

    [Fact]
    public void SoftOffline_OfTheZeroPage_FailsEbusyAndLeavesItHealthy()
    {
        var m = TestMachine.Create();
        Expect.Data(m.HostRead(0, 4));

        Expect.Error(Errno.EBUSY, m.Madvise(0, TestMachine.Page, "SOFT_OFFLINE"));

        Assert.False(m.Kernel.Mm.Frames.Has(FrameAllocator.ZeroPage, FrameFlags.HwPoison | FrameFlags.Offlined));
    }

    [Fact]
    public void Munmap_DropsTheEptEntriesOfTheRange()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(0, [1]));
        Expect.Ok(m.GuestWrite(TestMachine.Page, [2]));

        Expect.Ok(m.Munmap(0, TestMachine.Page));

        Assert.True(m.VmNamed().Ept.Lookup(0, out _).IsNone);
        Assert.False(m.VmNamed().Ept.Lookup(TestMachine.Page, out _).IsNone);
        Expect.Error(Errno.EFAULT, m.GuestRead(0, 1));
    }
}
