using Vmm.Core.Machine;

namespace Vmm.Core.Tests.Machine;

public class SparseArrayTests
{
    private const long Frames64TiB = 1L << 34;

    [Fact]
    public void New_For64TiBOfFrames_HoldsOnlyTheTopDirectory()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();

        var array = new SparseArray<int>(Frames64TiB);

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 10, "more than 64 KiB allocated up front");
        Assert.True(array.FootprintBytes(4) < 64 << 10, $"footprint {array.FootprintBytes(4)} bytes");
        Assert.Equal(0, array.AllocatedChunks);
    }

    [Fact]
    public void SetAndGet_AtTheLastIndexOf64TiB_RoundTripWithOneChunk()
    {
        var array = new SparseArray<ulong>(Frames64TiB);

        array.Set(Frames64TiB - 1, 0xabcdef);

        Assert.Equal(0xabcdefUL, array.Get(Frames64TiB - 1));
        Assert.Equal(0UL, array.Get(Frames64TiB - 2));
        Assert.Equal(0UL, array.Get(0));
        Assert.Equal(1, array.AllocatedChunks);
        Assert.Equal(1, array.AllocatedDirectories);
    }

    [Fact]
    public void Get_PastTheEnd_IsDefault()
    {
        var array = new SparseArray<int>(100);
        array.Set(99, 1);

        Assert.Equal(1, array.Get(99));
        Assert.Equal(0, array.Get(100));
        Assert.Equal(0, array.Get(1UL << 20)); // inside the top directory page's span, past its chunks
        Assert.Equal(0, array.Get(ulong.MaxValue));
    }

    [Fact]
    public void Directory_OfASmallArray_HoldsOnlyItsChunks()
    {
        var array = new SparseArray<int>(10 * SparseArray<int>.ChunkSize);

        array.Set(0, 1);

        Assert.Equal((1 + 10) * IntPtr.Size + SparseArray<int>.ChunkSize * 4, array.FootprintBytes(4));
        Assert.Equal([0UL], array.NonDefaultIndexes(0, ulong.MaxValue));
    }

    [Fact]
    public void SmallChunks_Of1024Entries_CostTheirOwnSize_AndCover64TiB()
    {
        var array = new SparseArray<int>(Frames64TiB, chunkShift: 10);

        array.Set(Frames64TiB - 1, 7);
        array.Set(3000, 5);

        Assert.Equal(1024, array.ChunkLength);
        Assert.Equal(7, array.Get(Frames64TiB - 1));
        Assert.Equal(5, array.Get(3000));
        Assert.Equal(0, array.Get(2047)); // the chunk before, never written
        Assert.Equal(2, array.AllocatedChunks);
        Assert.Equal([3000UL, (ulong)Frames64TiB - 1], array.NonDefaultIndexes(0, ulong.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SparseArray<int>(Frames64TiB + 1, chunkShift: 10));
    }

    [Fact]
    public void GetRefIfPresent_IsNullWithoutAChunk_AndTheEntryWithOne()
    {
        var array = new SparseArray<int>(1L << 20, chunkShift: 10);
        array.Set(5, 9);

        Assert.True(System.Runtime.CompilerServices.Unsafe.IsNullRef(ref array.GetRefIfPresent(2000)));
        Assert.True(System.Runtime.CompilerServices.Unsafe.IsNullRef(ref array.GetRefIfPresent(ulong.MaxValue)));
        array.GetRefIfPresent(6) = 4;
        Assert.Equal(9, array.GetRefIfPresent(5));
        Assert.Equal(4, array.Get(6));
        Assert.Equal(1, array.AllocatedChunks);
    }

    [Theory]
    [InlineData(100UL)]
    [InlineData(ulong.MaxValue)]
    public void SetOrGetRef_PastTheEnd_IsArgumentOutOfRange(ulong index)
    {
        var array = new SparseArray<int>(100);

        Assert.Throws<ArgumentOutOfRangeException>(() => array.Set(index, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => array.GetRef(index));
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData((1L << 36) + 1)]
    [InlineData(long.MaxValue)]
    public void New_WithALengthOutsideZeroTo2Pow36_IsArgumentOutOfRange(long length)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SparseArray<int>(length));

        Assert.Contains("2^36", e.Message);
    }

    [Fact]
    public void Set_OfDefaultWhereNothingIsWritten_AllocatesNothing()
    {
        var array = new SparseArray<int>(Frames64TiB);

        array.Set(Frames64TiB / 2, 0);

        Assert.Equal(0, array.AllocatedChunks);
        Assert.Equal(0, array.AllocatedDirectories);
    }

    [Fact]
    public void NonDefaultIndexes_Over64TiBWithThreeEntries_ListsThemAndScansOnlyDirectoriesAndTheirChunks()
    {
        var array = new SparseArray<byte>(Frames64TiB);
        ulong[] written = [5, 1UL << 30, Frames64TiB - 1];
        foreach (var index in written) array.Set(index, 1);

        var found = array.NonDefaultIndexes(0, (ulong)Frames64TiB).ToList();

        Assert.Equal(written, found);
        // 1024 top slots and 3 chunks; a one-level scan would look at 2^22 chunk slots.
        Assert.InRange(array.ScannedBlocks, 3, 1024 + 3);
    }

    [Fact]
    public void NonDefaultIndexes_OfASubrange_KeepsToItsBounds()
    {
        var array = new SparseArray<int>(1L << 26);
        foreach (var index in new ulong[] { 10, 4095, 4096, 1UL << 24, (1UL << 24) + 7 }) array.Set(index, 7);

        Assert.Equal([4095UL, 4096UL, 1UL << 24], array.NonDefaultIndexes(11, (1UL << 24) + 7));
        Assert.Empty(array.NonDefaultIndexes(11, 11));
        Assert.Empty(array.NonDefaultIndexes(1UL << 40, ulong.MaxValue));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(0xFFFF_FFFFUL + 1)]
    [InlineData((1UL << 34) + 1)]
    [InlineData(UInt40.MaxValue)]
    public void UInt40_HoldsEveryValueBelow2Pow40(ulong value)
    {
        Assert.Equal(value, new UInt40(value).Value);
        Assert.Equal(new UInt40(value), new UInt40(value));
    }

    [Fact]
    public void UInt40_Of2Pow40_IsArgumentOutOfRange()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new UInt40(1UL << 40));
}
