using Moq;
using Vmm.Abstractions;
using Vmm.Plugins.Thp.LazySplit;
using Vmm.Plugins.Thp.NoThp;
using Vmm.Plugins.Thp.PmdPoison;
using Vmm.Plugins.Thp.Split;

namespace Vmm.Plugins.Thp.Tests;

/// <summary>What each strategy asks of the kernel's THP services, with strict mocks: nothing beyond the calls named.</summary>
public class StrategyCallTests
{
    private static readonly VmInfo Td = new(new VmId(0), "td1", Protected: true, BackingKind.Anon, Thp: true, 8UL << 20, new Hva(0x7f0000000000), KeyId.Shared);
    private static readonly VmInfo Plain = Td with { Name = "vm2", Protected = false };
    private static readonly Hva PageHva = new(0x7f0000001000);
    private static readonly Pfn Frame = new(0x10601);

    private readonly Mock<IThpMechanics> _thp = new(MockBehavior.Strict);
    private readonly Mock<IHugePmdMechanics> _pmd = new(MockBehavior.Strict);
    private readonly Mock<IFrameMetadata> _frames = new(MockBehavior.Strict);
    private readonly Mock<IVmmControl> _vmm = new(MockBehavior.Strict);
    private readonly Mock<IKernelLog> _log = new(MockBehavior.Strict);

    private void VerifyNoOtherCalls()
    {
        _thp.VerifyNoOtherCalls();
        _pmd.VerifyNoOtherCalls();
        _frames.VerifyNoOtherCalls();
        _vmm.VerifyNoOtherCalls();
        _log.VerifyNoOtherCalls();
    }

    private LazySplitStrategy LazySplit() => new(_thp.Object, _pmd.Object, _frames.Object, _vmm.Object, _log.Object);

    [Fact]
    public void PmdPoison_PrepareSubpage_InAHugeMapping_LeavesAPmdMarkerAndSplitsNothing()
    {
        _thp.Setup(t => t.IsHugeMapped(PageHva)).Returns(true);
        _pmd.Setup(p => p.PoisonHugePmd(PageHva)).Returns(true);

        Assert.True(new PmdPoisonStrategy(_thp.Object, _pmd.Object, _log.Object).PrepareSubpage(Td, PageHva, Frame));

        _thp.Verify(t => t.IsHugeMapped(PageHva), Times.Once);
        _pmd.Verify(p => p.PoisonHugePmd(PageHva), Times.Once);
        VerifyNoOtherCalls();
    }

    [Fact]
    public void PmdPoison_PrepareSubpage_WhenTheMarkerCannotBeMade_WarnsAndRefuses()
    {
        _thp.Setup(t => t.IsHugeMapped(PageHva)).Returns(true);
        _pmd.Setup(p => p.PoisonHugePmd(PageHva)).Returns(false);
        _log.Setup(l => l.Warn(It.Is<string>(m => m.StartsWith("pmd-poison:", StringComparison.Ordinal))));

        Assert.False(new PmdPoisonStrategy(_thp.Object, _pmd.Object, _log.Object).PrepareSubpage(Td, PageHva, Frame));

        _thp.Verify(t => t.IsHugeMapped(PageHva), Times.Once);
        _pmd.Verify(p => p.PoisonHugePmd(PageHva), Times.Once);
        _log.Verify(l => l.Warn(It.IsAny<string>()), Times.Once);
        VerifyNoOtherCalls();
    }

    [Fact]
    public void PmdPoison_PrepareSubpage_OutsideAHugeMapping_DoesNothing()
    {
        _thp.Setup(t => t.IsHugeMapped(PageHva)).Returns(false);

        Assert.True(new PmdPoisonStrategy(_thp.Object, _pmd.Object, _log.Object).PrepareSubpage(Td, PageHva, Frame));

        _thp.Verify(t => t.IsHugeMapped(PageHva), Times.Once);
        VerifyNoOtherCalls();
    }

    [Fact]
    public void PrivateUnitPages_Is512ForPmdPoisonAndOneForTheOthers()
    {
        Assert.Equal(PageGeometry.PagesPerHuge, ((IHugePageStrategy)new PmdPoisonStrategy(_thp.Object, _pmd.Object, _log.Object)).PrivateUnitPages(Td));
        Assert.Equal(1, ((IHugePageStrategy)new SplitStrategy(_thp.Object, _log.Object)).PrivateUnitPages(Td));
        Assert.Equal(1, ((IHugePageStrategy)LazySplit()).PrivateUnitPages(Td));
        VerifyNoOtherCalls();
    }

    [Fact]
    public void LazySplit_PrepareSubpage_SplitsOnlyThePmd()
    {
        _thp.Setup(t => t.IsHugeMapped(PageHva)).Returns(true);
        _pmd.Setup(p => p.SplitHugePmd(PageHva)).Returns(true);

        Assert.True(LazySplit().PrepareSubpage(Td, PageHva, Frame));

        _thp.Verify(t => t.IsHugeMapped(PageHva), Times.Once);
        _pmd.Verify(p => p.SplitHugePmd(PageHva), Times.Once);
        VerifyNoOtherCalls();
    }

    [Fact]
    public void LazySplit_OnShared_ReinstallsThePmdOfAWhollySharedPteMappedRange()
    {
        var range = Td.HvaBase;
        _pmd.Setup(p => p.RangeState(range)).Returns(HugeRangeState.PteMapped);
        _vmm.Setup(v => v.FramesOf(Td.Id, new Gfn(0), new Gfn(512), It.IsAny<List<(Gfn, Pfn)>>()))
            .Callback<VmId, Gfn, Gfn, List<(Gfn, Pfn)>>((_, _, _, into) => { into.Add((new Gfn(0), new Pfn(0x10600))); into.Add((new Gfn(1), Frame)); });
        _frames.Setup(f => f.GetFlags(It.IsAny<Pfn>())).Returns(FrameFlags.SwapBacked);
        _pmd.Setup(p => p.RemapHugePmd(range)).Returns(true);

        LazySplit().OnShared(Td, PageHva, PageGeometry.PageSize);

        _pmd.Verify(p => p.RangeState(range), Times.Once);
        _vmm.Verify(v => v.FramesOf(Td.Id, new Gfn(0), new Gfn(512), It.IsAny<List<(Gfn, Pfn)>>()), Times.Once);
        _frames.Verify(f => f.GetFlags(It.IsAny<Pfn>()), Times.Exactly(2));
        _pmd.Verify(p => p.RemapHugePmd(range), Times.Once);
        VerifyNoOtherCalls();
    }

    [Theory]
    [InlineData(FrameFlags.Private)]
    [InlineData(FrameFlags.HwPoison)]
    public void LazySplit_OnShared_KeepsThePtesWhileAFrameIsPrivateOrPoisoned(FrameFlags flag)
    {
        var range = Td.HvaBase;
        _pmd.Setup(p => p.RangeState(range)).Returns(HugeRangeState.PteMapped);
        _vmm.Setup(v => v.FramesOf(Td.Id, new Gfn(0), new Gfn(512), It.IsAny<List<(Gfn, Pfn)>>()))
            .Callback<VmId, Gfn, Gfn, List<(Gfn, Pfn)>>((_, _, _, into) => { into.Add((new Gfn(1), Frame)); into.Add((new Gfn(7), new Pfn(0x10607))); });
        _frames.Setup(f => f.GetFlags(Frame)).Returns(FrameFlags.SwapBacked);
        _frames.Setup(f => f.GetFlags(new Pfn(0x10607))).Returns(FrameFlags.SwapBacked | flag);

        LazySplit().OnShared(Td, PageHva, PageGeometry.PageSize);

        _pmd.Verify(p => p.RangeState(range), Times.Once);
        _vmm.Verify(v => v.FramesOf(Td.Id, new Gfn(0), new Gfn(512), It.IsAny<List<(Gfn, Pfn)>>()), Times.Once);
        _frames.Verify(f => f.GetFlags(It.IsAny<Pfn>()), Times.Exactly(2));
        VerifyNoOtherCalls();
    }

    [Fact]
    public void LazySplit_OnShared_LooksAtEveryRangeTheShareTouchesAndOnlyRemapsPteMappedOnes()
    {
        // 0x100000 + 4 MiB touches the ranges at 0, 2 MiB and 4 MiB.
        var ranges = new[] { Td.HvaOf(new Gpa(0)), Td.HvaOf(new Gpa(0x200000)), Td.HvaOf(new Gpa(0x400000)) };
        _pmd.Setup(p => p.RangeState(ranges[0])).Returns(HugeRangeState.PmdMapped);
        _pmd.Setup(p => p.RangeState(ranges[1])).Returns(HugeRangeState.Other);
        _pmd.Setup(p => p.RangeState(ranges[2])).Returns(HugeRangeState.PmdMarker);

        LazySplit().OnShared(Td, Td.HvaOf(new Gpa(0x100000)), 4UL << 20);

        foreach (var range in ranges) _pmd.Verify(p => p.RangeState(range), Times.Once);
        VerifyNoOtherCalls();
    }

    [Fact]
    public void Split_PrepareSubpage_OnAPinnedThp_WarnsAndRefuses()
    {
        _thp.Setup(t => t.IsHugeMapped(PageHva)).Returns(true);
        _thp.Setup(t => t.SplitHugePage(Frame)).Returns(false);
        _log.Setup(l => l.Warn(It.Is<string>(m => m.StartsWith("split:", StringComparison.Ordinal))));

        Assert.False(new SplitStrategy(_thp.Object, _log.Object).PrepareSubpage(Td, PageHva, Frame));

        _thp.Verify(t => t.IsHugeMapped(PageHva), Times.Once);
        _thp.Verify(t => t.SplitHugePage(Frame), Times.Once);
        _log.Verify(l => l.Warn(It.IsAny<string>()), Times.Once);
        VerifyNoOtherCalls();
    }

    [Fact]
    public void AllowHugeMapping_IsRefusedOnlyByNoThpAndOnlyForProtectedVms()
    {
        Assert.False(new NoThpStrategy(_thp.Object, _log.Object).AllowHugeMapping(Td));
        Assert.True(new NoThpStrategy(_thp.Object, _log.Object).AllowHugeMapping(Plain));
        Assert.True(new SplitStrategy(_thp.Object, _log.Object).AllowHugeMapping(Td));
        Assert.True(new PmdPoisonStrategy(_thp.Object, _pmd.Object, _log.Object).AllowHugeMapping(Td));
        Assert.True(LazySplit().AllowHugeMapping(Td));
        VerifyNoOtherCalls();
    }
}
