using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>H10: conversion and reclaim re-initialise every line for the new owner.</summary>
public sealed class ReinitializeTests
{
    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Reinitialize_ForPrivateKey_ClearsPoisonOwnsEveryLineAndReadsAsZeros(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(2);
        rig.VmWrite(pfn, 0, ControllerRig.Line(1));
        rig.HostWrite(pfn, 64, ControllerRig.Line(2));
        rig.Controller.PoisonLine(pfn, 7);
        rig.Controller.PoisonLine(pfn, 63);

        rig.Controller.Reinitialize(pfn, rig.VmKey);

        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
        Assert.All(Enumerable.Range(0, PageGeometry.LinesPerPage), line => Assert.True(rig.Controller.IsLineOwned(pfn, line)));
        var page = new byte[PageGeometry.PageSize];
        page.AsSpan().Fill(0xEE);
        Assert.Equal(MemResult.Ok, rig.VmRead(pfn, 0, page));
        Assert.Equal(new byte[PageGeometry.PageSize], page);
    }

    [Fact]
    public void Reinitialize_ForPrivateKey_UnderTdxCi_StoresFreshMacsThatStillCatchAFlip()
    {
        var rig = ControllerRig.Create("tdx-ci");
        var pfn = rig.AcceptPage(2);
        rig.Controller.FlipBit(pfn, 9, 100);
        var line = new byte[PageGeometry.LineSize];
        Assert.Equal(MemStatus.IntegrityFailure, rig.VmRead(pfn, 9 * PageGeometry.LineSize, line).Status);

        rig.Controller.Reinitialize(pfn, rig.VmKey);
        var macs = rig.Host.CostLedger.Count(CostKind.MacCompute);
        Assert.Equal(MemResult.Ok, rig.VmRead(pfn, 9 * PageGeometry.LineSize, line));
        Assert.Equal(macs + 1, rig.Host.CostLedger.Count(CostKind.MacCompute)); // the read was checked, not waved through
        rig.Controller.FlipBit(pfn, 9, 100);
        Assert.Equal(MemStatus.IntegrityFailure, rig.VmRead(pfn, 9 * PageGeometry.LineSize, line).Status);
    }

    [Theory]
    [InlineData("mktme")]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Reinitialize_ForSharedKey_DropsAllLineMetadataAndContents(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(2);
        rig.VmWrite(pfn, 128, ControllerRig.Line(1));
        rig.Controller.PoisonLine(pfn, 3);
        Assert.Equal(1, rig.Controller.TrackedFrames);

        rig.Controller.Reinitialize(pfn, KeyId.Shared);

        Assert.Equal(0, rig.Controller.TrackedFrames);
        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
        Assert.True(rig.Host.Physical.Peek(pfn).IsEmpty);
        Assert.All(Enumerable.Range(0, PageGeometry.LinesPerPage), line => Assert.False(rig.Controller.IsLineOwned(pfn, line)));
        var page = new byte[PageGeometry.PageSize];
        page.AsSpan().Fill(0xEE);
        Assert.Equal(MemResult.Ok, rig.HostRead(pfn, 0, page));
        Assert.Equal(new byte[PageGeometry.PageSize], page);
    }

    [Theory]
    [InlineData("mktme", false)]
    [InlineData("tdx-li", false)]
    [InlineData("tdx-ci", false)]
    [InlineData("mktme", true)]
    [InlineData("tdx-li", true)]
    [InlineData("tdx-ci", true)]
    public void Reinitialize_CountsOneCacheFlushAndSixtyFourLineReinits(string controller, bool toShared)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = new Pfn(5);
        var ledger = rig.Host.CostLedger;

        rig.Controller.Reinitialize(pfn, toShared ? KeyId.Shared : rig.VmKey);

        Assert.Equal(1, ledger.Count(CostKind.CacheFlush));
        Assert.Equal(PageGeometry.LinesPerPage, ledger.Count(CostKind.LineReinit));
        var macs = controller == "tdx-ci" && !toShared ? PageGeometry.LinesPerPage : 0;
        Assert.Equal(macs, ledger.Count(CostKind.MacCompute));
    }
}
