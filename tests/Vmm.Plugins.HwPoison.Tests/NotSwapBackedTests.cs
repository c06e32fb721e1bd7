using Vmm.Abstractions;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>Memory that is not swap-backed (a regular file): v2 refuses to poison it (K26); v1 has only a VM_BUG_ON_PAGE and poisons it.</summary>
public class NotSwapBackedTests
{
    private const ulong Gpa = 0x2000;

    [Fact]
    public void GuestWrite_ToRegularFilePage_UnderV1_PoisonsAndUnmapsIt()
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td1", backing: BackingKind.File)], policy: PolicyMachine.V1());

        Expect.Ok(m.GuestWrite("td1", Gpa, [1, 2, 3]));

        var pfn = m.FrameOf("td1", Gpa);
        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.VmmPte("td1", Gpa));
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison));
        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead("td1", Gpa), m.HvaOf("td1", Gpa));
    }

    [Fact]
    public void GuestWrite_ToRegularFilePage_UnderV2_FailsTheGuestFaultAndLeavesThePage()
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td1", backing: BackingKind.File)], policy: PolicyMachine.V2());

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.GuestWrite("td1", Gpa, [1, 2, 3]), m.HvaOf("td1", Gpa));

        Assert.True(m.VmmPte("td1", Gpa).IsPresent);
        Assert.False(m.Kernel.Mm.Frames.Has(m.FrameOf("td1", Gpa), FrameFlags.HwPoison));
    }
}
