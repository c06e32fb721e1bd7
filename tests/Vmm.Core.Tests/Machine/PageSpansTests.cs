using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Tests.Machine;

/// <summary>The per-page pieces <see cref="PageSpans"/> cuts a transfer into.</summary>
public class PageSpansTests
{
    private const int Page = PageGeometry.PageSize;

    private static List<(ulong Address, int PageOffset, int BufferOffset, int Length)> Pieces(ulong start, int length)
    {
        var buffer = new byte[length];
        var pieces = new List<(ulong, int, int, int)>();
        foreach (var span in new PageSpans(start, buffer)) pieces.Add((span.Address, span.PageOffset, span.BufferOffset, span.Chunk.Length));
        return pieces;
    }

    [Fact]
    public void EmptyBuffer_HasNoPieces()
        => Assert.Empty(Pieces(0x1234, 0));

    [Fact]
    public void WithinOnePage_IsOnePiece()
        => Assert.Equal([(0x1010UL, 0x10, 0, 32)], Pieces(0x1010, 32));

    [Fact]
    public void AWholeAlignedPage_IsOnePiece()
        => Assert.Equal([(0x3000UL, 0, 0, Page)], Pieces(0x3000, Page));

    [Fact]
    public void EndingExactlyAtABoundary_IsOnePiece()
        => Assert.Equal([(0x1ff8UL, 0xff8, 0, 8)], Pieces(0x1ff8, 8));

    [Fact]
    public void StartingExactlyAtABoundary_StartsAtOffsetZero()
        => Assert.Equal([(0x2000UL, 0, 0, 8)], Pieces(0x2000, 8));

    [Fact]
    public void StraddlingOneBoundary_IsTwoPiecesThatMeetAtIt()
        => Assert.Equal([(0x1ff8UL, 0xff8, 0, 8), (0x2000UL, 0, 8, 8)], Pieces(0x1ff8, 16));

    [Fact]
    public void StraddlingThreeBoundaries_IsFourPieces()
        => Assert.Equal(
            [(0x1ff0UL, 0xff0, 0, 0x10), (0x2000UL, 0, 0x10, Page), (0x3000UL, 0, 0x1010, Page), (0x4000UL, 0, 0x2010, 0x20)],
            Pieces(0x1ff0, 0x10 + 2 * Page + 0x20));

    [Fact]
    public void PiecesCoverTheBufferInOrder_AndShareItsMemory()
    {
        var buffer = new byte[3 * Page];
        foreach (var span in new PageSpans(0x7f0000000800, buffer)) span.Chunk.Fill((byte)(span.PageIndex & 0xff));

        Assert.All(buffer.AsSpan(0, Page / 2).ToArray(), b => Assert.Equal(0x00, b));
        Assert.All(buffer.AsSpan(Page / 2, Page).ToArray(), b => Assert.Equal(0x01, b));
        Assert.All(buffer.AsSpan(3 * Page / 2, Page).ToArray(), b => Assert.Equal(0x02, b));
        Assert.All(buffer.AsSpan(5 * Page / 2).ToArray(), b => Assert.Equal(0x03, b));
    }

    [Fact]
    public void InTheLastPageOfTheAddressSpace_IsOnePieceWithTheRightOffset()
        => Assert.Equal([(ulong.MaxValue - 15, Page - 16, 0, 16)], Pieces(ulong.MaxValue - 15, 16));

    [Fact]
    public void TheLastWholePageOfTheAddressSpace_IsOnePiece()
    {
        var pieces = Pieces(ulong.MaxValue - (Page - 1), Page);

        Assert.Equal([(ulong.MaxValue - (Page - 1), 0, 0, Page)], pieces);
        Assert.Equal(ulong.MaxValue >> PageGeometry.PageShift, pieces[0].Address >> PageGeometry.PageShift);
    }

    [Fact]
    public void PageIndex_IsTheAddressOverFourKiB()
    {
        var buffer = new byte[2];
        var indexes = new List<ulong>();
        foreach (var span in new PageSpans(0x5fff, buffer)) indexes.Add(span.PageIndex);

        Assert.Equal([5UL, 6UL], indexes);
    }
}
