using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>
/// The integrity controllers on contents-free memory (memory.contents "none"): MACs counted, not computed, and every
/// state decision (integrity failure, poison, owner bit) the one the controller makes on real bytes.
/// </summary>
public sealed class ContentsFreeIntegrityTests
{
    private const int BitsPerLine = PageGeometry.LineSize * 8;

    [Fact]
    public void TdRead_AfterEverySingleBitFlip_ContentsFree_FailsIntegrityAsWithBytes_AndFlippingBackPasses()
    {
        var rig = ControllerRig.Create("tdx-ci", contentsFree: true);
        var pfn = rig.AcceptPage(3);
        var missed = new List<int>();
        for (var bit = 0; bit < BitsPerLine; bit++)
        {
            var line = bit % PageGeometry.LinesPerPage;
            var offset = line * PageGeometry.LineSize;
            rig.Controller.Reinitialize(pfn, rig.VmKey);
            rig.VmWrite(pfn, offset, ControllerRig.Line(bit));
            rig.Controller.FlipBit(pfn, line, bit);
            rig.Controller.FlipBit(pfn, line, bit);
            var read = new byte[PageGeometry.LineSize];
            if (!rig.VmRead(pfn, offset, read).IsOk) missed.Add(bit);
            rig.Controller.FlipBit(pfn, line, bit);
            if (rig.VmRead(pfn, offset, read).Status != MemStatus.IntegrityFailure || !rig.Controller.IsLinePoisoned(pfn, line)) missed.Add(bit);
        }
        Assert.Empty(missed);
    }

    [Theory]
    [InlineData("tdx-ci", 1)]
    [InlineData("tdx-ci", 2)]
    [InlineData("tdx-ci-sha3", 3)]
    [InlineData("tdx-li", 4)]
    [InlineData("mktme", 5)]
    public void RandomAccesses_ContentsFree_GiveTheSameResultsStateAndLedgerAsWithBytes(string controller, int seed)
    {
        var full = ControllerRig.Create(controller, partialWriteErratum: true);
        var free = ControllerRig.Create(controller, partialWriteErratum: true, contentsFree: true);
        var random = new Random(seed);
        var log = new List<string>();
        for (var i = 0; i < 4000; i++)
        {
            var pfn = new Pfn((ulong)random.Next(4));
            var line = random.Next(PageGeometry.LinesPerPage);
            var offset = line * PageGeometry.LineSize + (random.Next(3) == 0 ? random.Next(PageGeometry.LineSize) : 0);
            var length = Math.Min(PageGeometry.PageSize - offset, random.Next(2) == 0 ? PageGeometry.LineSize : 1 + random.Next(200));
            var data = new byte[length];
            random.NextBytes(data);
            var op = random.Next(9);
            var bit = random.Next(BitsPerLine);
            var flags = random.Next(4) == 0 ? AccessFlags.NonTemporal : AccessFlags.None;
            string Do(ControllerRig rig) => op switch
            {
                0 or 1 => rig.VmWrite(pfn, offset, data).ToString(),
                2 or 3 => rig.VmRead(pfn, offset, new byte[length]).ToString(),
                4 => rig.HostWrite(pfn, offset, data, flags: flags).ToString(),
                5 => rig.HostRead(pfn, offset, new byte[length]).ToString(),
                6 => Flip(rig),
                7 => Reinit(rig),
                _ => rig.HostWrite(pfn, offset, data, Requester.Device).ToString(),
            };
            string Flip(ControllerRig rig)
            {
                rig.Controller.FlipBit(pfn, line, bit);
                return "flip";
            }
            string Reinit(ControllerRig rig)
            {
                if (random.Next(2) == 0) rig.Controller.Reinitialize(pfn, rig.VmKey);
                else rig.Controller.OnFrameFreed(pfn);
                return "reinit";
            }
            var state = random.Next();
            random = new Random(state);
            var expected = Do(full);
            random = new Random(state);
            var actual = Do(free);
            Assert.True(expected == actual, $"op {i} ({op} at {pfn} +{offset}, {length} B): with bytes {expected}, contents-free {actual}");
            for (var l = 0; l < PageGeometry.LinesPerPage; l++)
                Assert.True(full.Controller.IsLinePoisoned(pfn, l) == free.Controller.IsLinePoisoned(pfn, l) && full.Controller.IsLineOwned(pfn, l) == free.Controller.IsLineOwned(pfn, l),
                    $"op {i}: line {l} of {pfn} differs");
            log.Add(expected);
        }
        Assert.Equal(full.Host.CostLedger.Snapshot(), free.Host.CostLedger.Snapshot());
        Assert.Equal(full.Host.Physical.MaterializedFrames, free.Host.Physical.MaterializedFrames);
        if (controller.StartsWith("tdx-ci", StringComparison.Ordinal))
        {
            Assert.True(full.Host.CostLedger.Snapshot()[nameof(CostKind.MacCompute)] > 1000);
            Assert.Contains(log, r => r.Contains(nameof(MemStatus.IntegrityFailure), StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Write_ContentsFree_KeepsNoBytes_AndReadsSeeZeros()
    {
        var rig = ControllerRig.Create("tdx-ci", contentsFree: true);
        var pfn = rig.AcceptPage(2);
        Assert.True(rig.VmWrite(pfn, 0, ControllerRig.Line(7)).IsOk);

        var read = new byte[PageGeometry.LineSize];
        Assert.Equal(MemResult.Ok, rig.VmRead(pfn, 0, read));
        Assert.All(read, b => Assert.Equal(0, b));
        Assert.False(rig.Host.Physical.KeepsContents);
        // More written frames cost no more bytes: one bit each, in a chunk of bits already there.
        var oneFrame = rig.Host.Physical.FootprintBytes;
        for (var frame = 3UL; frame < 16; frame++) rig.VmWrite(rig.AcceptPage(frame), 0, ControllerRig.Line((int)frame));
        Assert.Equal(14, rig.Host.Physical.MaterializedFrames);
        Assert.Equal(oneFrame, rig.Host.Physical.FootprintBytes);
    }
}
