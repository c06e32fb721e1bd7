using Vmm.Abstractions;

namespace Vmm.Testing;

/// <summary>
/// The property every <see cref="IHugePageStrategy"/> keeps (docs/conformance.md): once the strategy has acted on a
/// partly-private 2 MiB range, no present huge mapping covers a private page. Checked through the engine with the policies
/// that ask the strategy before making a page inside a THP private (<see cref="PoliciesUsingTheStrategy"/>).
/// </summary>
public abstract class HugePageStrategyConformance : ComponentConformance
{
    private const string Td = "td1";
    /// <summary>Pages of the VM's first 2 MiB range the cases touch, and one page of the second range.</summary>
    private static readonly ulong[] Probed = [0x0, 0x1000, 0x2000, 0x3000, 0x100000, 0x1ff000, 0x200000, 0x201000];

    public sealed override ComponentKind Kind => ComponentKind.Thp;

    /// <summary>Policies that call <see cref="IHugePageStrategy.PrepareSubpage"/>; a plugin with its own adds them here.</summary>
    protected virtual IReadOnlyList<string> PoliciesUsingTheStrategy => ["hwpoison-v1", "hwpoison-v2"];

    public static TheoryData<string> Cases => new() { "vmm-first", "pinned", "two-private", "guest-first", "second-range" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AfterTheStrategyActs_NoHugeMappingCoversAPrivatePage(string @case)
    {
        foreach (var policy in PoliciesUsingTheStrategy)
        {
            var places = Probed.Select(g => (Td, g)).ToList();
            var frames = ConformanceScenario.FramesAfter(Host, () => Case(policy, @case), places);
            var scenario = Case(policy, @case);
            var byGpa = scenario.InspectAll(places);
            var byPfn = frames.Select(pfn => pfn is null ? -1 : scenario.Step(new { op = "inspect", pfn })).ToList();
            var run = scenario.Run(Host);

            var privateRanges = new HashSet<ulong>();
            for (var i = 0; i < Probed.Length; i++)
            {
                Assert.True(run[byGpa[i]].StateText("pfn") == frames[i], $"the engine is not deterministic at gpa 0x{Probed[i]:x}\n{run.ScenarioText}");
                if (byPfn[i] >= 0 && run[byPfn[i]].StateFlag("private")) privateRanges.Add(Probed[i] & ~(PageGeometry.HugeSize - 1));
            }
            for (var i = 0; i < Probed.Length; i++)
            {
                var range = Probed[i] & ~(PageGeometry.HugeSize - 1);
                if (!privateRanges.Contains(range)) continue;
                // A present 2 MiB leaf, not a non-present one: pmd-poison's PMD marker covers private pages by design.
                Assert.False(run[byGpa[i]].StateFlag("huge") && run[byGpa[i]].StateFlag("hostMapped"),
                    $"{policy} + {ComponentName}, case {@case}: gpa 0x{Probed[i]:x} is mapped huge although its 2 MiB range holds a private page: {run[byGpa[i]]}\n{run.ScenarioText}");
            }
        }
    }

    private ConformanceScenario Case(string policy, string @case)
    {
        var scenario = new ConformanceScenario($"conformance: thp {ComponentName} under {policy}: {@case}")
            .Component("policy", policy)
            .Component("thp", ComponentName)
            .Vm(Td, "8M", isProtected: true, backing: "anon", thp: true);
        object HostWrite(ulong gpa) => new { op = "host.write", vm = Td, gpa = ConformanceScenario.Hex(gpa), data = "0x77" };
        object GuestWrite(ulong gpa) => new { op = "guest.write", vm = Td, gpa = ConformanceScenario.Hex(gpa), data = "0x5ec2" };
        switch (@case)
        {
            case "vmm-first":
                scenario.Steps([HostWrite(0x2000), GuestWrite(0x1000)]);
                break;
            case "pinned":
                scenario.Steps([HostWrite(0x0), new { op = "host.gup", vm = Td, gpa = "0x0", flags = new[] { "pin", "write" } }, GuestWrite(0x1000)]);
                break;
            case "two-private":
                scenario.Steps([HostWrite(0x3000), GuestWrite(0x1000), GuestWrite(0x1ff000), HostWrite(0x100000)]);
                break;
            case "guest-first":
                scenario.Steps([GuestWrite(0x1000), HostWrite(0x2000), HostWrite(0x100000)]);
                break;
            default:
                scenario.Steps([HostWrite(0x0), HostWrite(0x200000), GuestWrite(0x201000), HostWrite(0x1000)]);
                break;
        }
        return scenario;
    }
}
