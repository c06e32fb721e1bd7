using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// The packed frame table and the rmap against plain reference implementations: counts are exact ints whatever
/// their size (a byte inline, the rest in the overflow table), and the rmap gives every mapping back in the
/// order a plain newest-first list does, whether it sits inline or in nodes.
/// </summary>
public class FrameTableModelTests
{
    private const long FrameCount = 1L << 20;

    /// <summary>Frames spread over several chunks, the zero page and the last frame included.</summary>
    private static readonly ulong[] Pfns = [0, 1, 2, 1023, 1024, 5000, 700_000, FrameCount - 1];

    /// <summary>Counts around the inline limit, negative ones and large ones.</summary>
    private static readonly int[] Values = [0, 1, 2, 253, 254, 255, 256, 1000, -1, -300, int.MaxValue - 1];

    public enum CountOp { SetRef, AddRef, AddMap, Reset }

    public readonly record struct CountStep(CountOp Op, int Frame, int Value);

    [Fact]
    public void RandomCountChanges_ReadBackAsAPlainIntModel_AndOverflowOnlyHoldsTheLargeOnes()
    {
        var gen = Gen.Select(Gen.Enum<CountOp>(), Gen.Int[0, Pfns.Length - 1], Gen.OneOf(Gen.Int[0, Values.Length - 1].Select(i => Values[i]), Gen.Int[-3, 3]))
            .Select((op, frame, value) => new CountStep(op, frame, value))
            .Array[1, 80];
        gen.Sample(steps =>
        {
            var frames = new FrameTable(FrameCount);
            var refs = new Dictionary<ulong, int>();
            var maps = new Dictionary<ulong, int>();
            foreach (var step in steps)
            {
                var pfn = new Pfn(Pfns[step.Frame]);
                var model = (Ref: refs.GetValueOrDefault(pfn.Value), Map: maps.GetValueOrDefault(pfn.Value));
                switch (step.Op)
                {
                    case CountOp.SetRef:
                        frames.SetRefCount(pfn, step.Value);
                        refs[pfn.Value] = step.Value;
                        break;
                    case CountOp.AddRef:
                        var delta = Delta(model.Ref, step.Value);
                        Assert.Equal(model.Ref + delta, frames.AddRefCount(pfn, delta));
                        refs[pfn.Value] = model.Ref + delta;
                        break;
                    case CountOp.AddMap:
                        delta = Delta(model.Map, step.Value);
                        Assert.Equal(model.Map + delta, frames.AddMapCount(pfn, delta));
                        maps[pfn.Value] = model.Map + delta;
                        break;
                    case CountOp.Reset:
                        frames.SetFlags(pfn, FrameFlags.InUse | FrameFlags.Dirty);
                        frames.Reset(pfn, FrameFlags.InUse);
                        Assert.Equal(FrameFlags.InUse, frames.Flags(pfn));
                        refs[pfn.Value] = 0;
                        maps[pfn.Value] = 0;
                        break;
                }
                foreach (var p in Pfns)
                {
                    Assert.Equal(refs.GetValueOrDefault(p), frames.RefCountOf(new Pfn(p)));
                    Assert.Equal(maps.GetValueOrDefault(p), frames.MapCountOf(new Pfn(p)));
                }
                Assert.Equal(refs.Values.Count(Overflows) + maps.Values.Count(Overflows), frames.OverflowedCounts);
            }
        }, iter: 300, seed: "0N0XIzNsQ0O2");
    }

    /// <summary>A delta that keeps the model's count from wrapping around int.</summary>
    private static int Delta(int count, int value) => (int)Math.Clamp((long)count + value, int.MinValue, int.MaxValue) - count;

    private static bool Overflows(int count) => count is < 0 or > 254;

    [Fact]
    public void WritingZeroToAnUntouchedFrame_AllocatesNoChunk()
    {
        var frames = new FrameTable(FrameCount);
        var before = frames.FootprintBytes;

        frames.SetRefCount(new Pfn(5000), 0);
        frames.Reset(new Pfn(5000), FrameFlags.None);
        frames.ClearFlags(new Pfn(5000), FrameFlags.Dirty);
        frames.SetRmapWord(new Pfn(5000), 0);

        Assert.Equal(before, frames.FootprintBytes);
        Assert.Equal(0, frames.RefCountOf(new Pfn(5000)));
    }

    public readonly record struct RmapStep(bool Add, int Frame, int Pid, ulong Va, bool Huge);

    private static readonly int[] Pids = [100, 101, 1023, 1024, 70_000];

    /// <summary>Addresses that fit inline, one at the 48-bit limit, some that do not fit (too high, not page-aligned).</summary>
    private static readonly ulong[] Vas = [0, 0x1000, 0x7f00_0020_0000, (1UL << 48) - 0x1000, 1UL << 48, 0xff00_0000_0000_0000, 0x1008];

    [Fact]
    public void RandomMappings_CollectAsANewestFirstListModel()
    {
        var gen = Gen.Select(Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[0, Pids.Length - 1], Gen.Int[0, Vas.Length - 1], Gen.Bool)
            .Select((add, frame, pid, va, huge) => new RmapStep(add != 0, frame, Pids[pid], Vas[va], huge))
            .Array[1, 80];
        gen.Sample(steps =>
        {
            var frames = new FrameTable(FrameCount);
            var rmap = new Rmap(frames);
            var model = new Dictionary<ulong, List<RmapEntry>>();
            var seen = new List<RmapEntry>();
            foreach (var step in steps)
            {
                var pfn = new Pfn(Pfns[step.Frame + 4]);
                var list = model.TryGetValue(pfn.Value, out var l) ? l : model[pfn.Value] = [];
                if (step.Add)
                {
                    rmap.Add(pfn, step.Pid, step.Va, step.Huge ? MappingSize.Size2M : MappingSize.Size4K);
                    list.Insert(0, new RmapEntry(step.Pid, step.Va, step.Huge ? MappingSize.Size2M : MappingSize.Size4K));
                }
                else
                {
                    var index = list.FindIndex(e => e.Pid == step.Pid && e.Va == step.Va);
                    Assert.Equal(index >= 0, rmap.Remove(pfn, step.Pid, step.Va));
                    if (index >= 0) list.RemoveAt(index);
                }
                foreach (var (p, expected) in model)
                {
                    seen.Clear();
                    rmap.Collect(new Pfn(p), seen);
                    Assert.Equal(expected, seen);
                    Assert.Equal(expected.Count > 0, rmap.Any(new Pfn(p)));
                }
                Assert.Equal(model.Values.Sum(e => e.Count), rmap.LiveNodes);
            }
        }, iter: 300, seed: "0N0XIzNsQ0O2");
    }
}
