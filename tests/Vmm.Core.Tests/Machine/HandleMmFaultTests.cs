using Vmm.Abstractions;
using Vmm.Core.Paging;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>handle_mm_fault takes the entry its caller's walk found instead of walking the table again.</summary>
public class HandleMmFaultTests
{
    private sealed class CountingTable(IPageTable inner) : IPageTable
    {
        public int Lookups { get; set; }

        public PteValue Lookup(ulong va, out MappingSize size)
        {
            Lookups++;
            return inner.Lookup(va, out size);
        }

        public void Set(ulong va, PteValue entry, MappingSize size) => inner.Set(va, entry, size);
        public void Visit(ulong start, ulong end, PageTableVisitor visitor) => inner.Visit(start, end, visitor);
        public long TablePages => inner.TablePages;
        public int LastWalkDepth => inner.LastWalkDepth;
    }

    private sealed class CountingTables : IPageTableFactory
    {
        public List<CountingTable> Tables { get; } = [];

        public IPageTable Create()
        {
            var table = new CountingTable(new RadixPageTable());
            Tables.Add(table);
            return table;
        }
    }

    [Fact]
    public void HostWrite_ToAnUntouchedPage_WalksTheVmmTableOncePerAttemptNotAgainInTheFaultHandler()
    {
        var tables = new CountingTables();
        var m = TestMachine.Create(new MachineSetup { PageTables = tables });
        var vmmTable = tables.Tables[0];
        vmmTable.Lookups = 0;

        Expect.Ok(m.HostWrite(0x5000, [1]));

        // The walk that misses (its entry goes to handle_mm_fault), then the retry that finds the new PTE.
        Assert.Equal(2, vmmTable.Lookups);
    }
}
