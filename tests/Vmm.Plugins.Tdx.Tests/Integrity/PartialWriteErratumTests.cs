using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>H11: with X86_BUG_TDX_PW_MCE a partial write to a TD-owned line by a non-temporal, uncached or DMA store poisons it.</summary>
public sealed class PartialWriteErratumTests
{
    private const int Line = PageGeometry.LineSize;

    public static TheoryData<string, Requester, AccessFlags> PartialPaths => new()
    {
        { "tdx-li", Requester.HostKernel, AccessFlags.NonTemporal },
        { "tdx-ci", Requester.HostKernel, AccessFlags.NonTemporal },
        { "tdx-li", Requester.HostUser, AccessFlags.Uncached },
        { "tdx-ci", Requester.HostUser, AccessFlags.Uncached },
        { "tdx-li", Requester.Device, AccessFlags.None },
        { "tdx-ci", Requester.Device, AccessFlags.None },
    };

    [Theory]
    [MemberData(nameof(PartialPaths))]
    public void Write_PartialToTdOwnedLineWithErratum_PoisonsTheLineAtOnce(string controller, Requester requester, AccessFlags flags)
    {
        var rig = ControllerRig.Create(controller, partialWriteErratum: true);
        var pfn = rig.AcceptPage(6);
        rig.VmWrite(pfn, 3 * Line, ControllerRig.Line(1));

        Assert.Equal(MemResult.Ok, rig.HostWrite(pfn, 3 * Line + 8, new byte[8], requester, flags));

        Assert.True(rig.Controller.IsLinePoisoned(pfn, 3));
        Assert.Equal(1, rig.Controller.PoisonedLineCount(pfn));
        var read = new byte[1];
        Assert.Equal(new MemResult(MemStatus.PoisonConsumed, 3), rig.HostRead(pfn, 3 * Line, read, Requester.HostKernel));
        Assert.Equal(new MemResult(MemStatus.PoisonConsumed, 3), rig.VmRead(pfn, 3 * Line, read));
    }

    [Theory]
    [MemberData(nameof(PartialPaths))]
    public void Write_PartialToTdOwnedLineWithoutErratum_OnlyClearsTheOwnerBit(string controller, Requester requester, AccessFlags flags)
    {
        var rig = ControllerRig.Create(controller, partialWriteErratum: false);
        var pfn = rig.AcceptPage(6);
        rig.VmWrite(pfn, 3 * Line, ControllerRig.Line(1));

        Assert.Equal(MemResult.Ok, rig.HostWrite(pfn, 3 * Line + 8, new byte[8], requester, flags));

        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
        Assert.False(rig.Controller.IsLineOwned(pfn, 3));
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Write_WithErratum_PoisonsOnlyPartialUncachedWritesToTdOwnedLines(string controller)
    {
        var rig = ControllerRig.Create(controller, partialWriteErratum: true);
        var pfn = rig.AcceptPage(6);

        rig.HostWrite(pfn, 0, new byte[8]);                                                // cached partial store
        rig.HostWrite(pfn, Line, new byte[Line], Requester.HostKernel, AccessFlags.NonTemporal); // full line: no partial write
        rig.VmWrite(pfn, 2 * Line + 8, new byte[8]);                                        // the TD's own partial store
        rig.HostWrite(pfn, 0, new byte[8], Requester.Device);                             // line 0 is no longer TD-owned

        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
    }
}
