using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>The shared zero page under hwpoison-v2: allowed and never poisoned, and never taken into one TD.</summary>
public class ZeroPageTests
{
    private const ulong Gpa = 0x5000;

    [Fact]
    public void GuestPrivateRead_OfUntouchedAnonMemory_OnPlain_MapsTheZeroPageUnpoisoned()
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("vm1", backing: BackingKind.Anon)]);

        Assert.Equal(new byte[8], Expect.Data(m.GuestRead("vm1", Gpa)));

        Assert.Equal(FrameAllocator.ZeroPage, m.FrameOf("vm1", Gpa));
        Assert.Equal(FrameFlags.None, m.Kernel.Mm.GetFlags(FrameAllocator.ZeroPage) & (FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private));
    }

    [Fact]
    public void GuestPrivateRead_OfUntouchedAnonMemory_InTwoTds_OnTdxCi_GivesEachTdItsOwnZeroedPage()
    {
        var m = PolicyMachine.Create(
            [PolicyMachine.Vm("td1", backing: BackingKind.Anon), PolicyMachine.Vm("td2", backing: BackingKind.Anon), PolicyMachine.Vm("vm", backing: BackingKind.Anon, isProtected: false)],
            MemoryKind.TdxCi);

        Assert.Equal(new byte[8], Expect.Data(m.GuestRead("td1", Gpa)));
        Assert.Equal(new byte[8], Expect.Data(m.GuestRead("td2", Gpa)));
        Assert.Equal(new byte[8], Expect.Data(m.GuestRead("vm", Gpa)));

        // TDH.MEM.PAGE.AUG takes a page into one TD: never the zero page every process shares.
        Assert.NotEqual(FrameAllocator.ZeroPage, m.FrameOf("td1", Gpa));
        Assert.NotEqual(m.FrameOf("td1", Gpa), m.FrameOf("td2", Gpa));
        Assert.True(m.Kernel.Mm.Frames.Key(FrameAllocator.ZeroPage).IsShared);
        Assert.Equal(FrameFlags.None, m.Kernel.Mm.GetFlags(FrameAllocator.ZeroPage) & FrameFlags.Private);
        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead("td1", Gpa), m.HvaOf("td1", Gpa));
    }
}
