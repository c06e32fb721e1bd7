using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>H6: which silent DRAM changes each controller catches on the TD's next private-KeyID read.</summary>
public sealed class BitFlipDetectionTests
{
    private const int BitsPerLine = PageGeometry.LineSize * 8;

    [Fact]
    public void TdRead_AfterEverySingleBitFlip_WithAesMac_FailsIntegrityAndPoisons()
        => AssertEveryFlipDetected("tdx-ci");

    [Fact]
    public void TdRead_AfterEverySingleBitFlip_WithSha3Mac_FailsIntegrityAndPoisons()
        => AssertEveryFlipDetected("tdx-ci-sha3");

    [Theory]
    [InlineData("tdx-ci")]
    [InlineData("tdx-li")]
    public void TdRead_WithoutFlip_ReturnsWhatTheTdWrote(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(3);
        var data = ControllerRig.Line(1);
        Assert.True(rig.VmWrite(pfn, 5 * PageGeometry.LineSize, data).IsOk);

        var read = new byte[PageGeometry.LineSize];
        Assert.Equal(MemResult.Ok, rig.VmRead(pfn, 5 * PageGeometry.LineSize, read));
        Assert.Equal(data, read);
    }

    [Fact]
    public void TdRead_AfterEverySingleBitFlip_UnderTdxLi_ReturnsTheFlippedDataWithoutPoison()
    {
        var rig = ControllerRig.Create("tdx-li");
        var pfn = rig.AcceptPage(3);
        var data = ControllerRig.Line(2);
        var missed = new List<int>();
        for (var bit = 0; bit < BitsPerLine; bit++)
        {
            var line = bit % PageGeometry.LinesPerPage;
            var offset = line * PageGeometry.LineSize;
            rig.Controller.Reinitialize(pfn, rig.VmKey);
            rig.VmWrite(pfn, offset, data);
            rig.Controller.FlipBit(pfn, line, bit);

            var read = new byte[PageGeometry.LineSize];
            var result = rig.VmRead(pfn, offset, read);
            var expected = (byte[])data.Clone();
            expected[bit / 8] ^= (byte)(1 << (bit % 8));
            if (!result.IsOk || !read.AsSpan().SequenceEqual(expected) || rig.Controller.IsLinePoisoned(pfn, line)) missed.Add(bit);
        }
        Assert.Empty(missed);
    }

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void TdRead_AfterHostRewroteTheSameBytes_FailsIntegrity(string controller)
    {
        // The data is unchanged; only the owner bit (and for Ci the MAC's key and owner tweak) moved.
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(3);
        var data = ControllerRig.Line(3);
        rig.VmWrite(pfn, 0, data);
        rig.HostWrite(pfn, 0, rig.Stored(pfn, 0, PageGeometry.LineSize));

        var read = new byte[PageGeometry.LineSize];
        Assert.Equal(new MemResult(MemStatus.IntegrityFailure, 0), rig.VmRead(pfn, 0, read));
        Assert.Equal(new byte[PageGeometry.LineSize], read);
        Assert.True(rig.Controller.IsLinePoisoned(pfn, 0));
    }

    [Fact]
    public void Mktme_NeverPoisons_OnFlipsHostWritesOrWrongKeyReads()
    {
        var rig = ControllerRig.Create("mktme");
        var pfn = rig.AcceptPage(3);
        var read = new byte[PageGeometry.LineSize];
        for (var bit = 0; bit < BitsPerLine; bit++)
        {
            var line = bit % PageGeometry.LinesPerPage;
            var offset = line * PageGeometry.LineSize;
            rig.VmWrite(pfn, offset, ControllerRig.Line(bit));
            rig.Controller.FlipBit(pfn, line, bit);
            Assert.True(rig.VmRead(pfn, offset, read).IsOk);
            Assert.True(rig.HostRead(pfn, offset, read).IsOk);
            Assert.True(rig.HostWrite(pfn, offset + 1, read.AsSpan(0, 7), Requester.Device, AccessFlags.NonTemporal).IsOk);
            Assert.True(rig.VmRead(pfn, offset, read).IsOk);
        }
        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
    }

    private static void AssertEveryFlipDetected(string controller)
    {
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(3);
        var data = ControllerRig.Line(4);
        var missed = new List<int>();
        for (var bit = 0; bit < BitsPerLine; bit++)
        {
            var line = bit % PageGeometry.LinesPerPage;
            var offset = line * PageGeometry.LineSize;
            rig.Controller.Reinitialize(pfn, rig.VmKey);
            rig.VmWrite(pfn, offset, data);
            rig.Controller.FlipBit(pfn, line, bit);

            var read = new byte[PageGeometry.LineSize];
            read.AsSpan().Fill(0xAA);
            var result = rig.VmRead(pfn, offset, read);
            var detected = result == new MemResult(MemStatus.IntegrityFailure, line)
                && rig.Controller.IsLinePoisoned(pfn, line)
                && read.AsSpan().IndexOfAnyExcept((byte)0) < 0;
            if (!detected) missed.Add(bit);
        }
        Assert.Empty(missed);
    }
}
