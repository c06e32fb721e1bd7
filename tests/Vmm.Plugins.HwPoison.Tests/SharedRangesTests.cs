namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>kvm->shared_ranges: at most N merged [start, end) gfn ranges.</summary>
public class SharedRangesTests
{
    private static SharedRanges With(int capacity, params (ulong Start, ulong End)[] ranges)
    {
        var shared = new SharedRanges(capacity);
        foreach (var (start, end) in ranges) Assert.True(shared.Add(start, end));
        return shared;
    }

    private static ulong[] Members(SharedRanges shared, ulong upTo = 32)
    {
        var members = new List<ulong>();
        for (ulong gfn = 0; gfn < upTo; gfn++)
            if (shared.Contains(gfn)) members.Add(gfn);
        return [.. members];
    }

    [Fact]
    public void Add_DisjointRanges_KeepsEachAndContainsIsHalfOpen()
    {
        var shared = With(4, (2, 4), (8, 9));

        Assert.Equal(2, shared.Count);
        Assert.Equal([2UL, 3, 8], Members(shared));
    }

    [Theory]
    [InlineData(4UL, 6UL)] // touches the end
    [InlineData(0UL, 2UL)] // touches the start
    [InlineData(3UL, 5UL)] // overlaps
    [InlineData(2UL, 4UL)] // equal
    public void Add_TouchingOrOverlappingRange_MergesIntoOne(ulong start, ulong end)
    {
        var shared = With(1, (2, 4));

        Assert.True(shared.Add(start, end));

        Assert.Equal(1, shared.Count);
        Assert.Equal(Enumerable.Range((int)Math.Min(2, start), (int)(Math.Max(4, end) - Math.Min(2, start))).Select(i => (ulong)i), Members(shared));
    }

    [Fact]
    public void Add_RangeBridgingTwo_MergesAllThree()
    {
        var shared = With(3, (0, 2), (5, 7), (10, 11));

        Assert.True(shared.Add(2, 5));

        Assert.Equal(2, shared.Count);
        Assert.Equal([0UL, 1, 2, 3, 4, 5, 6, 10], Members(shared));
    }

    [Fact]
    public void Add_NewRangeWhenFull_FailsAndChangesNothing()
    {
        var shared = With(2, (0, 1), (4, 5));

        Assert.False(shared.Add(8, 9));

        Assert.Equal(2, shared.Count);
        Assert.Equal([0UL, 4], Members(shared));
    }

    [Fact]
    public void Remove_MiddleOfRange_SplitsIt()
    {
        var shared = With(4, (0, 10));

        shared.Remove(3, 5);

        Assert.Equal(2, shared.Count);
        Assert.Equal([0UL, 1, 2, 5, 6, 7, 8, 9], Members(shared));
    }

    [Fact]
    public void Remove_SpanningSeveralRanges_TrimsTheEndsAndDropsTheInside()
    {
        var shared = With(4, (0, 3), (5, 7), (9, 12));

        shared.Remove(2, 10);

        Assert.Equal(2, shared.Count);
        Assert.Equal([0UL, 1, 10, 11], Members(shared));
    }

    [Fact]
    public void Remove_WholeRangeOrNothing_LeavesTheRest()
    {
        var shared = With(4, (0, 2), (6, 8));

        shared.Remove(6, 8);
        shared.Remove(3, 5);

        Assert.Equal(1, shared.Count);
        Assert.Equal([0UL, 1], Members(shared));
    }

    [Fact]
    public void Remove_ThenAdd_ReusesTheFreedSlot()
    {
        var shared = With(2, (0, 1), (4, 5));
        shared.Remove(4, 5);

        Assert.True(shared.Add(8, 9));
        Assert.Equal([0UL, 8], Members(shared));
    }
}
