using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>
/// A write smaller than a line is a read-modify-write with the writer's KeyID: the rest of the line is what that KeyID
/// reads, so a host's partial write to a TD-owned line keeps zeros there (H4), never the TD's plaintext.
/// </summary>
public sealed class PartialWriteMergeTests
{
    private const int Line = PageGeometry.LineSize;

    public static TheoryData<string, Requester, AccessFlags> HostWriters => new()
    {
        { "tdx-li", Requester.HostUser, AccessFlags.None },
        { "tdx-ci", Requester.HostUser, AccessFlags.None },
        { "tdx-li", Requester.HostKernel, AccessFlags.NonTemporal },
        { "tdx-ci", Requester.HostKernel, AccessFlags.NonTemporal },
        { "tdx-li", Requester.Device, AccessFlags.None },
        { "tdx-ci", Requester.Device, AccessFlags.None },
    };

    [Theory]
    [MemberData(nameof(HostWriters))]
    public void Write_PartialByTheHostToATdOwnedLine_LeavesZerosInTheRestOfTheLine(string controller, Requester requester, AccessFlags flags)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(6);
        rig.VmWrite(pfn, 3 * Line, ControllerRig.Line(1));
        var written = Enumerable.Repeat((byte)0xab, 8).ToArray();

        Assert.Equal(MemResult.Ok, rig.HostWrite(pfn, 3 * Line + 8, written, requester, flags));

        var expected = new byte[Line];
        written.CopyTo(expected, 8);
        var read = new byte[Line];
        Assert.Equal(MemResult.Ok, rig.HostRead(pfn, 3 * Line, read, requester));
        Assert.Equal(expected, read);
        Assert.Equal(expected, rig.Stored(pfn, 3 * Line, Line));
        Assert.False(rig.Controller.IsLineOwned(pfn, 3));
        Assert.True(rig.Controller.IsLineOwned(pfn, 4));
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Write_PartialByTheHostToALineItOwns_KeepsTheRestOfTheLine(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = new Pfn(6);
        var line = ControllerRig.Line(2);
        rig.HostWrite(pfn, 0, line);

        rig.HostWrite(pfn, 8, new byte[8]);

        Array.Clear(line, 8, 8);
        var read = new byte[Line];
        Assert.Equal(MemResult.Ok, rig.HostRead(pfn, 0, read));
        Assert.Equal(line, read);
    }
}
