using Vmm.Abstractions;
using Vmm.Plugins.SevSnp.Tests.Infrastructure;

namespace Vmm.Plugins.SevSnp.Tests.Rmp;

/// <summary>H17: 2 MiB RMP entries, their PSMASH split, and the host's mapping-size check.</summary>
public sealed class HugeEntryTests
{
    private const ulong Head = 512;

    [Fact]
    public void FirstTouchOfAPrivateHugeRange_AssignsOneValidated2MEntry()
    {
        var rig = new SnpRig();
        Assert.Equal(GuestPageAssigned.HugeRange, rig.Assign(Head + 5, MappingSize.Size2M, rangePrivate: true));
        Assert.Equal(1, rig.Ledger.Count(CostKind.RmpUpdate));
        for (var i = 0UL; i < 512; i++)
        {
            var entry = rig.Controller.Rmp.Get(new Pfn(Head + i));
            Assert.True(entry.IsAssigned && entry.IsHuge && entry.IsValidated && entry.Gfn == new Gfn(Head + i), $"pfn {Head + i}: {entry}");
        }
        Assert.Equal(GuestPageAssigned.Page, rig.Assign(Head + 9, MappingSize.Size2M, rangePrivate: true));
        Assert.True(rig.GuestRead(Head + 9, 0, new byte[4]).IsOk);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void WithoutA2MMappingOrAWhollyPrivateRange_ThePageIsAssignedAlone(bool huge, bool rangePrivate)
    {
        var rig = new SnpRig();
        Assert.Equal(GuestPageAssigned.Page, rig.Assign(Head + 5, huge ? MappingSize.Size2M : MappingSize.Size4K, rangePrivate));
        Assert.False(rig.Controller.Rmp.Get(new Pfn(Head + 6)).IsAssigned);
        Assert.False(rig.Controller.Rmp.Get(new Pfn(Head + 5)).IsHuge);
    }

    [Fact]
    public void A4KChangeInside2MEntry_Psmashes_AndTheNeighboursStayValidated()
    {
        var rig = new SnpRig();
        rig.Assign(Head, MappingSize.Size2M, rangePrivate: true);
        var secret = SnpRig.Data(9);
        Assert.True(rig.GuestWrite(Head + 1, 0, secret).IsOk);

        rig.ConvertToShared(Head + 5);

        Assert.Equal(1, rig.Ledger.Count(CostKind.Psmash));
        Assert.False(rig.Controller.Rmp.Get(new Pfn(Head + 5)).IsAssigned);
        var neighbour = rig.Controller.Rmp.Get(new Pfn(Head + 1));
        Assert.True(neighbour.IsAssigned && neighbour.IsValidated && !neighbour.IsHuge);
        var back = new byte[secret.Length];
        Assert.True(rig.GuestRead(Head + 1, 0, back).IsOk);
        Assert.Equal(secret, back);
        rig.ConvertToShared(Head + 6);
        Assert.Equal(1, rig.Ledger.Count(CostKind.Psmash));
    }

    [Fact]
    public void HostUserWriteThroughA2MMapping_FaultsWhileAny4KIsAssigned_TheKernelsDoesNot()
    {
        var rig = new SnpRig();
        rig.Assign(Head + 3);
        Assert.Equal(MemStatus.AccessFault, rig.HostWrite(Head + 7, 0, SnpRig.Data(10), Requester.HostUser, AccessFlags.HugeMapping).Status);
        Assert.True(rig.HostWrite(Head + 7, 0, SnpRig.Data(10), Requester.HostUser).IsOk);
        Assert.True(rig.HostWrite(Head + 7, 0, SnpRig.Data(10), Requester.HostKernel, AccessFlags.HugeMapping).IsOk);
        rig.ConvertToShared(Head + 3);
        Assert.True(rig.HostWrite(Head + 7, 0, SnpRig.Data(10), Requester.HostUser, AccessFlags.HugeMapping).IsOk);
    }

    [Fact]
    public void DirectMapSplit_IsCountedOncePer2MRangeTheHostAssignsInto()
    {
        var rig = new SnpRig();
        rig.Assign(Head + 1);
        rig.Assign(Head + 2);
        rig.Assign(3 * Head + 1);
        Assert.Equal(2, rig.Ledger.Count(CostKind.DirectMapSplit));
        Assert.Equal(3, rig.Ledger.Count(CostKind.RmpUpdate));
    }

    [Fact]
    public void RmpFootprint_GrowsWithTouchedRanges_AndChunksReturnToThePool()
    {
        var rig = new SnpRig(1L << 22);
        for (var i = 0UL; i < 8; i++) rig.Assign(i * 65536 + 3);
        Assert.Equal(8, rig.Controller.RmpChunks);
        for (var i = 0UL; i < 8; i++) rig.Free(i * 65536 + 3);
        Assert.Equal(0, rig.Controller.RmpChunks);
        rig.Assign(5);
        Assert.Equal(1, rig.Controller.RmpChunks);
    }
}
