using CsCheck;
using Vmm.Abstractions;

namespace Vmm.Core.Tests.Machine;

public class PteValueTests
{
    private const ulong MaxPfn40 = (1UL << 40) - 1;

    [Fact]
    public void Leaf_Writable4K_HasHardwareBitLayout()
    {
        var pte = PteValue.Leaf(new Pfn(0x1234), writable: true);

        // P(0) RW(1) US(2) A(5), PFN 0x1234 at bit 12, NX(63).
        Assert.Equal(0x8000_0000_0123_4027UL, pte.Raw);
        Assert.True(pte.IsPresent);
        Assert.True(pte.IsWritable);
        Assert.True(pte.IsUser);
        Assert.True(pte.IsNoExecute);
        Assert.False(pte.IsHuge);
        Assert.False(pte.IsDirty);
        Assert.False(pte.IsSwap);
        Assert.False(pte.IsProtNone);
        Assert.True(pte.MapsFrame);
        Assert.Equal(new Pfn(0x1234), pte.Pfn);
    }

    [Fact]
    public void Leaf_ReadOnly2M_SetsPageSizeBitAndClearsRw()
    {
        var pte = PteValue.Leaf(new Pfn(0x1234), writable: false, MappingSize.Size2M);

        Assert.Equal(0x8000_0000_0123_40A5UL, pte.Raw);
        Assert.True(pte.IsHuge);
        Assert.False(pte.IsWritable);
        Assert.Equal(1UL << 7, pte.Raw & PteValue.PageSizeBit);
    }

    [Fact]
    public void Leaf_PfnOccupiesBits12To51Only()
    {
        var pte = PteValue.Leaf(new Pfn(MaxPfn40), writable: false);

        Assert.Equal(PteValue.PfnMask, pte.Raw & PteValue.PfnMask);
        Assert.Equal(0x000F_FFFF_FFFF_F000UL, PteValue.PfnMask);
        Assert.Equal(new Pfn(MaxPfn40), pte.Pfn);
        // Bits 52..62 stay clear: the PFN does not spill into the software/NX bits.
        Assert.Equal(0UL, pte.Raw & 0x7FF0_0000_0000_0000UL);
    }

    [Fact]
    public void WithWritableAndWithDirty_ChangeOnlyTheirBits()
    {
        var pte = PteValue.Leaf(new Pfn(7), writable: true);

        var readOnly = pte.WithWritable(false);
        var dirty = readOnly.WithDirty();

        Assert.Equal(pte.Raw & ~PteValue.Writable, readOnly.Raw);
        Assert.Equal(readOnly.Raw | (1UL << 6), dirty.Raw);
        Assert.True(dirty.IsDirty);
        Assert.Equal(pte.Raw, readOnly.WithWritable(true).Raw);
    }

    [Fact]
    public void HwPoisonEntry_RawMatchesPgtable64SwpEntryEncoding()
    {
        var entry = PteValue.HwPoisonEntry(new Pfn(0x1234));

        // __swp_entry(type, offset): (~offset << SWP_OFFSET_SHIFT(14) >> SWP_TYPE_BITS(5)) | type << 59.
        Assert.Equal(((~0x1234UL << 14) >> 5) | (25UL << 59), entry.Raw);
        Assert.Equal(0xCFFF_FFFF_FFDB_9600UL, entry.Raw);
    }

    [Fact]
    public void MigrationWriteEntry_RawMatchesPgtable64SwpEntryEncoding()
    {
        var entry = PteValue.MigrationEntry(new Pfn(0xABCDEF), write: true);

        Assert.Equal(0xDFFF_FFFE_A864_2000UL, entry.Raw);
        Assert.Equal(SwapType.MigrationWrite, entry.SwapType);
        Assert.Equal(27, (int)(entry.Raw >> 59));
    }

    [Fact]
    public void HwPoisonEntry_OfPfnZero_InvertsTheWholeOffsetField()
    {
        var entry = PteValue.HwPoisonEntry(new Pfn(0));

        // The L1TF mitigation: a small offset sets the high "physical address" bits of a non-present entry.
        Assert.Equal(0xCFFF_FFFF_FFFF_FE00UL, entry.Raw);
        Assert.Equal(0UL, entry.SwapOffset);
    }

    [Fact]
    public void HwPoisonEntry_IsNonPresentSwapAndNotProtNone()
    {
        var entry = PteValue.HwPoisonEntry(new Pfn(0x1234));

        Assert.False(entry.IsPresent);
        Assert.False(entry.IsProtNone);
        Assert.False(entry.MapsFrame);
        Assert.False(entry.IsNone);
        Assert.True(entry.IsSwap);
        Assert.True(entry.IsHwPoison);
        Assert.False(entry.IsMigration);
        Assert.Equal(SwapType.HwPoison, entry.SwapType);
        Assert.Equal(new Pfn(0x1234), entry.SwapPfn);
        // Bits 0..8 (P .. G/PROTNONE) are never set by a swap entry.
        Assert.Equal(0UL, entry.Raw & 0x1FFUL);
    }

    [Fact]
    public void SwapEntries_RoundTripTypeAndPfn_ForManyPfns()
    {
        Gen.ULong[0, MaxPfn40].Sample(value =>
        {
            var pfn = new Pfn(value);
            var hwp = PteValue.HwPoisonEntry(pfn);
            var read = PteValue.MigrationEntry(pfn, write: false);
            var write = PteValue.MigrationEntry(pfn, write: true);

            Assert.True(hwp.IsHwPoison && !hwp.IsMigration && !hwp.IsPresent && !hwp.IsProtNone);
            Assert.Equal(pfn, hwp.SwapPfn);
            Assert.Equal(((~value << 14) >> 5) | (25UL << 59), hwp.Raw);
            Assert.Equal(~value & ((1UL << 50) - 1), (hwp.Raw >> 9) & ((1UL << 50) - 1));

            Assert.True(read.IsMigration && !read.IsHwPoison && !read.IsPresent && !read.IsProtNone);
            Assert.Equal(SwapType.MigrationRead, read.SwapType);
            Assert.Equal(pfn, read.SwapPfn);

            Assert.True(write.IsMigration && write.SwapType == SwapType.MigrationWrite);
            Assert.Equal(pfn, write.SwapPfn);
        }, iter: 5000);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(0x7FFFUL)]
    [InlineData(MaxPfn40)]
    [InlineData((1UL << 50) - 1)]
    public void HwPoisonEntry_RoundTripsAtOffsetFieldEdges(ulong value)
    {
        var entry = PteValue.HwPoisonEntry(new Pfn(value));

        Assert.Equal(value, entry.SwapOffset);
        Assert.Equal(SwapType.HwPoison, entry.SwapType);
        Assert.True(entry.IsSwap);
    }

    [Fact]
    public void ProtNoneLeaf_KeepsFrameButIsNotPresent()
    {
        var pte = PteValue.ProtNoneLeaf(new Pfn(0x1234));

        // _PAGE_PROTNONE is bit 8 (the global bit of a present entry), nothing else but the PFN.
        Assert.Equal(0x0123_4100UL, pte.Raw);
        Assert.False(pte.IsPresent);
        Assert.True(pte.IsProtNone);
        Assert.True(pte.MapsFrame);
        Assert.False(pte.IsSwap);
        Assert.False(pte.IsHwPoison);
        Assert.False(pte.IsWritable);
        Assert.Equal(new Pfn(0x1234), pte.Pfn);
    }

    [Fact]
    public void ProtNoneLeaf_2M_CarriesPageSizeBit()
    {
        var pte = PteValue.ProtNoneLeaf(new Pfn(0x200), MappingSize.Size2M);

        Assert.Equal((0x200UL << 12) | (1UL << 8) | (1UL << 7), pte.Raw);
        Assert.True(pte.IsProtNone && pte.IsHuge && !pte.IsPresent);
    }

    [Fact]
    public void PresentEntryWithGlobalBit_IsNotProtNone()
    {
        var pte = new PteValue(PteValue.Leaf(new Pfn(3), true).Raw | PteValue.Global);

        Assert.True(pte.IsPresent);
        Assert.False(pte.IsProtNone);
        Assert.False(pte.IsSwap);
    }

    [Fact]
    public void None_IsNeitherPresentNorSwap()
    {
        Assert.True(PteValue.None.IsNone);
        Assert.False(PteValue.None.IsSwap);
        Assert.False(PteValue.None.MapsFrame);
        Assert.Equal("none", PteValue.None.ToString());
    }
}
