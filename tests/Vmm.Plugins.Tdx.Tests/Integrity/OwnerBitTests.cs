using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>H3–H6 and H14 at the controller: the TD-owner bit decides what shared-KeyID accesses see and do.</summary>
public sealed class OwnerBitTests
{
    private const int Line = PageGeometry.LineSize;

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Write_WithPrivateKey_SetsTheOwnerBitOfEveryLineItTouches(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = new Pfn(4);
        rig.HostWrite(pfn, 0, new byte[PageGeometry.PageSize]);
        Assert.False(rig.Controller.IsLineOwned(pfn, 1));

        Assert.True(rig.VmWrite(pfn, Line + 60, new byte[8]).IsOk);

        Assert.False(rig.Controller.IsLineOwned(pfn, 0));
        Assert.True(rig.Controller.IsLineOwned(pfn, 1));
        Assert.True(rig.Controller.IsLineOwned(pfn, 2));
        Assert.False(rig.Controller.IsLineOwned(pfn, 3));
    }

    [Theory]
    [InlineData("tdx-li", Requester.HostUser)]
    [InlineData("tdx-ci", Requester.HostUser)]
    [InlineData("tdx-li", Requester.HostKernel)]
    [InlineData("tdx-ci", Requester.HostKernel)]
    [InlineData("tdx-li", Requester.Device)]
    [InlineData("tdx-ci", Requester.Device)]
    public void Read_OfTdOwnedLineWithSharedKey_ReturnsZerosWithoutPoison(string controller, Requester requester)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(4);
        var data = ControllerRig.Line(1);
        rig.VmWrite(pfn, 2 * Line, data);

        var read = new byte[Line];
        read.AsSpan().Fill(0xEE);
        Assert.Equal(MemResult.Ok, rig.HostRead(pfn, 2 * Line, read, requester));
        Assert.Equal(new byte[Line], read);
        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
        Assert.Equal(data, rig.Stored(pfn, 2 * Line, Line)); // zeros are what the host sees, not what DRAM holds

        Assert.Equal(MemResult.Ok, rig.VmRead(pfn, 2 * Line, read));
        Assert.Equal(data, read);
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Read_WithSharedKeyAcrossOwnedAndHostLines_ZerosOnlyTheOwnedLine(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(4);
        rig.VmWrite(pfn, 0, ControllerRig.Line(1));
        var hostData = ControllerRig.Line(2);
        rig.HostWrite(pfn, Line, hostData);

        var read = new byte[2 * Line];
        Assert.Equal(MemResult.Ok, rig.HostRead(pfn, 32, read.AsSpan(0, Line + 32)));
        Assert.Equal(new byte[32], read.AsSpan(0, 32).ToArray());
        Assert.Equal(hostData.AsSpan(0, 64).ToArray(), read.AsSpan(32, 64).ToArray());
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Write_WithSharedKeyToTdOwnedLine_LandsClearsTheOwnerBitAndSignalsNothing(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(4);
        rig.VmWrite(pfn, 0, ControllerRig.Line(1));
        var macs = rig.Host.CostLedger.Count(CostKind.MacCompute);

        var hostData = new byte[] { 0x0b, 0xad, 0xc0, 0xde };
        Assert.Equal(MemResult.Ok, rig.HostWrite(pfn, 4, hostData));

        Assert.False(rig.Controller.IsLineOwned(pfn, 0));
        Assert.True(rig.Controller.IsLineOwned(pfn, 1));
        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
        Assert.Equal(hostData, rig.Stored(pfn, 4, 4));
        var read = new byte[4];
        Assert.Equal(MemResult.Ok, rig.HostRead(pfn, 4, read));
        Assert.Equal(hostData, read);
        Assert.Equal(controller == "tdx-ci" ? macs + 1 : macs, rig.Host.CostLedger.Count(CostKind.MacCompute));
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Read_ByTdAfterHostWrite_FailsIntegrityReturnsZerosAndPoisonsOnlyThatLine(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(4);
        rig.VmWrite(pfn, 0, ControllerRig.Line(1));
        rig.VmWrite(pfn, Line, ControllerRig.Line(2));
        rig.HostWrite(pfn, Line + 8, new byte[] { 1 });

        var read = new byte[2 * Line];
        read.AsSpan().Fill(0xEE);
        Assert.Equal(new MemResult(MemStatus.IntegrityFailure, 1), rig.VmRead(pfn, 0, read));
        Assert.Equal(ControllerRig.Line(1), read.AsSpan(0, Line).ToArray());
        Assert.Equal(new byte[Line], read.AsSpan(Line).ToArray());
        Assert.True(rig.Controller.IsLinePoisoned(pfn, 1));
        Assert.Equal(1, rig.Controller.PoisonedLineCount(pfn));

        Assert.Equal(new MemResult(MemStatus.PoisonConsumed, 1), rig.VmRead(pfn, Line, read.AsSpan(0, 1)));
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Read_ByTdAfterHostOverwroteTheWholePage_FailsIntegrity(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(4);
        rig.VmWrite(pfn, 0, ControllerRig.Line(1));
        Assert.Equal(MemResult.Ok, rig.HostWrite(pfn, 0, new byte[PageGeometry.PageSize]));

        var read = new byte[Line];
        Assert.Equal(new MemResult(MemStatus.IntegrityFailure, 0), rig.VmRead(pfn, 0, read));
        Assert.True(rig.Controller.IsLinePoisoned(pfn, 0));
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Read_ByTdOfAPageItNeverAccepted_FailsIntegrity(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = new Pfn(4);
        rig.HostWrite(pfn, 0, ControllerRig.Line(1));

        var read = new byte[8];
        Assert.Equal(new MemResult(MemStatus.IntegrityFailure, 0), rig.VmRead(pfn, 0, read));
        Assert.True(rig.Controller.IsLinePoisoned(pfn, 0));
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("mktme")]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Read_OfPoisonedLine_ByAnyRequesterAndKey_ConsumesPoison(string controller)
    {
        IMemoryController memory;
        KeyId vmKey;
        if (controller == "plain")
        {
            var host = new ControllerHost();
            memory = new Vmm.Plugins.Baseline.Plain.PlainMemoryController(host.Physical, host.CostLedger);
            vmKey = KeyId.Shared;
        }
        else
        {
            var rig = ControllerRig.Create(controller);
            rig.AcceptPage(4);
            memory = rig.Controller;
            vmKey = rig.VmKey;
        }
        var pfn = new Pfn(4);
        memory.PoisonLine(pfn, 10);
        var read = new byte[2];
        foreach (var requester in Enum.GetValues<Requester>())
        {
            Assert.Equal(new MemResult(MemStatus.PoisonConsumed, 10), memory.Read(new LineAccess(pfn, 10 * Line + 62, KeyId.Shared, requester), read));
            Assert.Equal(new MemResult(MemStatus.PoisonConsumed, 10), memory.Read(new LineAccess(pfn, 10 * Line, vmKey, requester), read));
        }
        Assert.Equal(MemResult.Ok, memory.Read(new LineAccess(pfn, 9 * Line, vmKey, Requester.Guest), read));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(Line)]
    [InlineData(2 * Line)]
    public void Read_OfAnotherTdsOwnedLine_UnderTdxLi_PassesTheOwnerCheckButIsGarbage(int length)
    {
        // Logical integrity keeps one TD bit, not the KeyID: another TD's KeyID passes the check and decrypts garbage.
        var rig = ControllerRig.Create("tdx-li");
        var pfn = rig.AcceptPage(4);
        var data = new byte[2 * Line];
        ControllerRig.Line(1).CopyTo(data, 0);
        ControllerRig.Line(2).CopyTo(data, Line);
        Assert.True(rig.VmWrite(pfn, 0, data).IsOk);
        var other = rig.Controller.AssignPrivateKey(new VmId(1));

        var seen = new byte[length];
        Assert.Equal(MemResult.Ok, rig.Controller.Read(new LineAccess(pfn, 0, other, Requester.Guest), seen));

        Assert.NotEqual(data.AsSpan(0, length).ToArray(), seen);
        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
        var own = new byte[length];
        Assert.Equal(MemResult.Ok, rig.VmRead(pfn, 0, own));
        Assert.Equal(data.AsSpan(0, length).ToArray(), own);
    }
}
