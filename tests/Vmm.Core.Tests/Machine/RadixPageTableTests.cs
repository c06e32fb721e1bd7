using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Paging;

namespace Vmm.Core.Tests.Machine;

public class RadixPageTableTests
{
    private const ulong Base = 0x7f00_0000_0000UL; // 512 GiB-aligned, like the VMM's mmap area
    private const ulong Page = PageGeometry.PageSize;
    private const ulong Huge = PageGeometry.HugeSize;
    private const ulong Gig = 1UL << 30;
    private const ulong Pml4Span = 1UL << 39;

    private static PteValue Leaf(ulong pfn, MappingSize size = MappingSize.Size4K) => PteValue.Leaf(new Pfn(pfn), writable: true, size);

    [Fact]
    public void NewTable_HasOnlyTheRootAndLooksUpNone()
    {
        var table = new RadixPageTable();

        var entry = table.Lookup(Base, out var size);

        Assert.True(entry.IsNone);
        Assert.Equal(MappingSize.Size4K, size);
        Assert.Equal(1, table.TablePages);
        Assert.Equal(1, table.LastWalkDepth);
    }

    [Fact]
    public void Set4K_ThenLookup_ReturnsLeafAfterFourLevelWalk()
    {
        var table = new RadixPageTable();

        table.Set(Base + 5 * Page, Leaf(42), MappingSize.Size4K);
        var entry = table.Lookup(Base + 5 * Page + 0x123, out var size);

        Assert.Equal(Leaf(42), entry);
        Assert.Equal(MappingSize.Size4K, size);
        Assert.Equal(4, table.LastWalkDepth);
        Assert.Equal(4, table.TablePages); // PML4, PDPT, PD, PT
    }

    [Fact]
    public void Lookup_ReportsDepthWhereTheWalkStopped()
    {
        var table = new RadixPageTable();
        table.Set(Base, Leaf(1), MappingSize.Size4K);

        table.Lookup(Base + Page, out _);
        Assert.Equal(4, table.LastWalkDepth); // same PT, empty slot
        table.Lookup(Base + Huge, out _);
        Assert.Equal(3, table.LastWalkDepth); // same PD, no PT below the slot
        table.Lookup(Base + Gig, out _);
        Assert.Equal(2, table.LastWalkDepth); // same PDPT, no PD
        table.Lookup(Base + Pml4Span, out _);
        Assert.Equal(1, table.LastWalkDepth); // no PDPT
    }

    [Fact]
    public void Set2M_IsALeafAtThePdLevel()
    {
        var table = new RadixPageTable();

        table.Set(Base + 2 * Huge, Leaf(0x400, MappingSize.Size2M), MappingSize.Size2M);
        var entry = table.Lookup(Base + 2 * Huge + 0x1F_F123, out var size);

        Assert.Equal(MappingSize.Size2M, size);
        Assert.True(entry.IsHuge);
        Assert.Equal(new Pfn(0x400), entry.Pfn);
        Assert.Equal(3, table.LastWalkDepth);
        Assert.Equal(3, table.TablePages); // no PT for a 2 MiB leaf
    }

    [Fact]
    public void Set2M_NonPresentHwPoisonEntry_IsReturnedAsA2MLeaf()
    {
        var table = new RadixPageTable();
        var hwp = PteValue.HwPoisonEntry(new Pfn(0x600));

        table.Set(Base, hwp, MappingSize.Size2M);
        var entry = table.Lookup(Base + 17 * Page, out var size);

        Assert.Equal(hwp, entry);
        Assert.Equal(MappingSize.Size2M, size);
    }

    [Fact]
    public void Set2M_AtUnalignedAddress_Throws()
    {
        var table = new RadixPageTable();

        Assert.Throws<ArgumentException>(() => table.Set(Base + Page, Leaf(0x400, MappingSize.Size2M), MappingSize.Size2M));
    }

    [Fact]
    public void Set4K_InsideA2MLeaf_Throws()
    {
        var table = new RadixPageTable();
        table.Set(Base, Leaf(0x400, MappingSize.Size2M), MappingSize.Size2M);

        var ex = Assert.Throws<InvalidOperationException>(() => table.Set(Base + 3 * Page, Leaf(9), MappingSize.Size4K));

        Assert.Contains("split", ex.Message);
        Assert.Equal(new Pfn(0x400), table.Lookup(Base + 3 * Page, out _).Pfn); // the 2 MiB leaf is untouched
    }

    [Fact]
    public void Clearing2MLeaf_Allows4KEntriesThere()
    {
        var table = new RadixPageTable();
        table.Set(Base, Leaf(0x400, MappingSize.Size2M), MappingSize.Size2M);

        table.Set(Base, PteValue.None, MappingSize.Size2M);
        table.Set(Base + 3 * Page, Leaf(9), MappingSize.Size4K);

        Assert.Equal(Leaf(9), table.Lookup(Base + 3 * Page, out var size));
        Assert.Equal(MappingSize.Size4K, size);
        Assert.True(table.Lookup(Base, out _).IsNone);
    }

    [Fact]
    public void SettingNone_WhereNothingIsMapped_AllocatesNoTables()
    {
        var table = new RadixPageTable();

        table.Set(Base + 77 * Gig, PteValue.None, MappingSize.Size4K);
        table.Set(Base + 4 * Huge, PteValue.None, MappingSize.Size2M);

        Assert.Equal(1, table.TablePages);
    }

    [Fact]
    public void TablePages_GrowOnlyWhenANewTableIsNeeded()
    {
        var table = new RadixPageTable();
        for (ulong i = 0; i < 512; i++) table.Set(Base + i * Page, Leaf(i + 1), MappingSize.Size4K);
        Assert.Equal(4, table.TablePages); // one PT holds all 512

        table.Set(Base + Huge, Leaf(1000), MappingSize.Size4K);
        Assert.Equal(5, table.TablePages); // a new PT

        table.Set(Base + Gig, Leaf(1001), MappingSize.Size4K);
        Assert.Equal(7, table.TablePages); // a new PD and PT

        table.Set(Base + Pml4Span, Leaf(1002), MappingSize.Size4K);
        Assert.Equal(10, table.TablePages); // a new PDPT, PD and PT

        table.Set(Base + 2 * Page, Leaf(1003), MappingSize.Size4K);
        Assert.Equal(10, table.TablePages); // overwrite: nothing new
    }

    [Fact]
    public void Visit_YieldsLeavesInAddressOrderWithTheirSizes()
    {
        var table = new RadixPageTable();
        table.Set(Base + Pml4Span + Page, Leaf(5), MappingSize.Size4K);
        table.Set(Base + Gig, Leaf(4), MappingSize.Size4K);
        table.Set(Base + 4 * Huge, Leaf(0x800, MappingSize.Size2M), MappingSize.Size2M);
        table.Set(Base + 7 * Page, Leaf(2), MappingSize.Size4K);
        table.Set(Base + 3 * Page, Leaf(1), MappingSize.Size4K);
        table.Set(Base + 9 * Page, PteValue.HwPoisonEntry(new Pfn(3)), MappingSize.Size4K);

        var seen = new List<(ulong Va, ulong Raw, MappingSize Size)>();
        table.Visit(0, ulong.MaxValue, (va, entry, size) =>
        {
            seen.Add((va, entry.Raw, size));
            return true;
        });

        Assert.Equal(
        [
            (Base + 3 * Page, Leaf(1).Raw, MappingSize.Size4K),
            (Base + 7 * Page, Leaf(2).Raw, MappingSize.Size4K),
            (Base + 9 * Page, PteValue.HwPoisonEntry(new Pfn(3)).Raw, MappingSize.Size4K),
            (Base + 4 * Huge, Leaf(0x800, MappingSize.Size2M).Raw, MappingSize.Size2M),
            (Base + Gig, Leaf(4).Raw, MappingSize.Size4K),
            (Base + Pml4Span + Page, Leaf(5).Raw, MappingSize.Size4K),
        ], seen);
    }

    [Fact]
    public void Visit_HonoursHalfOpenRange()
    {
        var table = new RadixPageTable();
        for (ulong i = 0; i < 8; i++) table.Set(Base + i * Page, Leaf(i + 1), MappingSize.Size4K);

        var seen = new List<ulong>();
        table.Visit(Base + 2 * Page, Base + 5 * Page, (va, _, _) =>
        {
            seen.Add((va - Base) / Page);
            return true;
        });

        Assert.Equal([2UL, 3UL, 4UL], seen);
    }

    [Fact]
    public void Visit_RangeStartingInsideA2MLeaf_YieldsTheLeafAtItsAlignedAddress()
    {
        var table = new RadixPageTable();
        table.Set(Base + Huge, Leaf(0x800, MappingSize.Size2M), MappingSize.Size2M);
        table.Set(Base + 2 * Huge, Leaf(7), MappingSize.Size4K);

        var seen = new List<(ulong, MappingSize)>();
        table.Visit(Base + Huge + 5 * Page, Base + Huge + 6 * Page, (va, _, size) =>
        {
            seen.Add((va, size));
            return true;
        });

        Assert.Equal([(Base + Huge, MappingSize.Size2M)], seen);
    }

    [Fact]
    public void Visit_StopsWhenTheVisitorReturnsFalse()
    {
        var table = new RadixPageTable();
        for (ulong i = 0; i < 8; i++) table.Set(Base + i * Page, Leaf(i + 1), MappingSize.Size4K);
        table.Set(Base + Gig, Leaf(99), MappingSize.Size4K);

        var visits = 0;
        table.Visit(0, ulong.MaxValue, (_, _, _) => ++visits < 3);

        Assert.Equal(3, visits);
    }

    [Fact]
    public void Visit_OfEmptyOrInvertedRange_VisitsNothing()
    {
        var table = new RadixPageTable();
        table.Set(Base, Leaf(1), MappingSize.Size4K);

        var visits = 0;
        table.Visit(Base + Page, Base + Page, (_, _, _) => ++visits > 0);
        table.Visit(Base + Page, Base, (_, _, _) => ++visits > 0);

        Assert.Equal(0, visits);
    }
    /// <summary>One step of the model test: a 4 KiB or 2 MiB leaf set (or cleared) at a slot of a small window.</summary>
    public readonly record struct Step(bool Huge, int Slot, ulong Pfn, bool Clear);

    /// <summary>Huge-page slots spread over two PML4 entries, so every level gets more than one table.</summary>
    private static ulong HugeBase(int slot) => Base + (ulong)(slot / 4) * Pml4Span / 2 + (ulong)(slot % 4) * Huge;

    [Fact]
    public void RandomSetsAndClears_LookupAndVisit_AgreeWithAModelOfLeaves()
    {
        var gen = Gen.Select(Gen.Bool, Gen.Int[0, 7], Gen.ULong[1, 1UL << 30], Gen.Int[0, 3])
            .Select((huge, slot, pfn, clear) => new Step(huge, slot, pfn, clear == 0))
            .Array[1, 60];
        gen.Sample(steps =>
        {
            var table = new RadixPageTable();
            var model = new SortedDictionary<ulong, (PteValue Entry, MappingSize Size)>();
            foreach (var step in steps)
            {
                var hugeVa = HugeBase(step.Slot);
                if (step.Huge)
                {
                    var entry = step.Clear ? PteValue.None : Leaf(step.Pfn & ~511UL, MappingSize.Size2M);
                    table.Set(hugeVa, entry, MappingSize.Size2M);
                    foreach (var va in model.Keys.Where(k => k >= hugeVa && k < hugeVa + Huge).ToList()) model.Remove(va);
                    if (!step.Clear) model[hugeVa] = (entry, MappingSize.Size2M);
                }
                else
                {
                    var va = hugeVa + (step.Pfn % 512) * Page;
                    if (model.TryGetValue(hugeVa, out var leaf) && leaf.Size == MappingSize.Size2M) continue; // a 2 MiB leaf must be split first
                    var entry = step.Clear ? PteValue.None : Leaf(step.Pfn);
                    table.Set(va, entry, MappingSize.Size4K);
                    if (step.Clear) model.Remove(va);
                    else model[va] = (entry, MappingSize.Size4K);
                }
                // Looked up after every step, so a walk cached before a write must not answer after it.
                AgreeWithModel(table, model);
            }
            var visited = new List<(ulong, PteValue, MappingSize)>();
            table.Visit(0, ulong.MaxValue, (va, entry, size) => { visited.Add((va, entry, size)); return true; });
            Assert.Equal(model.Select(m => (m.Key, m.Value.Entry, m.Value.Size)), visited);
        }, iter: 300, seed: "0N0XIzNsQ0O2");
    }

    /// <summary>Every leaf of the model, and an empty 4 KiB slot beside each, look up as the model says.</summary>
    private static void AgreeWithModel(RadixPageTable table, SortedDictionary<ulong, (PteValue Entry, MappingSize Size)> model)
    {
        foreach (var (va, (entry, size)) in model)
        {
            Assert.Equal(entry, table.Lookup(va, out var seen));
            Assert.Equal(size, seen);
            if (size == MappingSize.Size2M || (va + Page) % Huge == 0 || model.ContainsKey(va + Page)) continue;
            Assert.Equal(PteValue.None, table.Lookup(va + Page, out _));
        }
        for (var slot = 0; slot < 8; slot++)
        {
            var hugeVa = HugeBase(slot);
            if (model.Keys.Any(k => k >= hugeVa && k < hugeVa + Huge)) continue;
            Assert.Equal(PteValue.None, table.Lookup(hugeVa + 5 * Page, out _));
        }
    }

    [Fact]
    public void SparseLeaves_CostAFractionOfTheirX86TablePages_WhileTablePagesCountTheX86Pages()
    {
        var table = new RadixPageTable();
        const int leaves = 2048; // 512 GiB: one PML4 slot

        // One leaf per PT and four per PD, as a guest of tens of TiB touched at random leaves them.
        for (var i = 0; i < leaves; i++) table.Set(Base + (ulong)i * 128 * Huge, Leaf((ulong)i + 1), MappingSize.Size4K);

        Assert.Equal(1 + 1 + leaves / 4 + leaves, table.TablePages); // PML4, one PDPT, the PDs, the PTs
        var x86 = table.TablePages * 4096.0 / leaves;
        var stored = (double)table.StorageBytes / leaves;
        Assert.True(stored < x86 / 3, $"{stored:0} B of simulator storage per sparse leaf against {x86:0} B of x86 table pages");
    }

    [Fact]
    public void ManySparseLeaves_AcrossStorageSegments_LookUpVisitAndFreeLikeFewOnes()
    {
        var table = new RadixPageTable();
        const int leaves = 20_000; // one PT each: more tables and blocks than one storage segment holds

        for (var i = 0; i < leaves; i++) table.Set(Base + (ulong)i * 3 * Huge + (ulong)(i % 512) * Page, Leaf((ulong)i + 1), MappingSize.Size4K);
        var (pages, storage) = (table.TablePages, table.StorageBytes);
        for (var i = 0; i < leaves; i += 2) table.Set(Base + (ulong)i * 3 * Huge, Leaf((ulong)i << 9, MappingSize.Size2M), MappingSize.Size2M); // frees every other PT
        Assert.Equal(pages - leaves / 2, table.TablePages);
        for (var i = 0; i < leaves; i += 2) table.Set(Base + (ulong)i * 3 * Huge + Huge, Leaf((ulong)i + 7), MappingSize.Size4K); // takes the freed PTs and blocks

        Assert.Equal(pages, table.TablePages);
        Assert.Equal(storage, table.StorageBytes);
        for (var i = 0; i < leaves; i++)
        {
            var va = Base + (ulong)i * 3 * Huge;
            if (i % 2 == 0)
            {
                Assert.Equal(Leaf((ulong)i << 9, MappingSize.Size2M), table.Lookup(va, out var size));
                Assert.Equal(MappingSize.Size2M, size);
                Assert.Equal(Leaf((ulong)i + 7), table.Lookup(va + Huge, out _));
            }
            else
            {
                Assert.Equal(Leaf((ulong)i + 1), table.Lookup(va + (ulong)(i % 512) * Page, out _));
            }
        }
        var visited = 0;
        ulong last = 0;
        table.Visit(0, ulong.MaxValue, (va, _, _) =>
        {
            Assert.True(va >= last);
            last = va;
            visited++;
            return true;
        });
        Assert.Equal(leaves + leaves / 2, visited);
    }
}
