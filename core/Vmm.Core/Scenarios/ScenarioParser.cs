using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vmm.Abstractions;

namespace Vmm.Core.Scenarios;

/// <summary>
/// Reads one scenario file (scenario-format.md, version 1) into a <see cref="Scenario"/>. Every problem is a
/// <see cref="ScenarioException"/> at the line and column of the offending property or value, with a message
/// that names the fix. Steps are numbered from 0 (their index in <c>steps</c>).
/// </summary>
public static partial class ScenarioParser
{
    /// <summary>The ops of scenario-format.md, in the table's order.</summary>
    public static IReadOnlyList<string> Ops { get; } =
    [
        "guest.read", "guest.write", "guest.convert", "vmm.set-attributes",
        "host.read", "host.write", "host.gup", "host.pread", "host.pwrite",
        "host.procmem-read", "host.procmem-write", "host.process-vm-readv",
        "host.madvise", "host.fallocate", "host.mmap-backing", "host.munmap", "host.fork", "host.exit",
        "kernel.read", "kernel.write", "device.dma-read", "device.dma-write",
        "hw.memory-error", "hw.flip-bit", "thp.collapse", "thp.split", "vm.destroy", "inspect",
        // Extensions beyond scenario-format.md version 1:
        "hw.unpoison",
    ];

    /// <summary>Largest data value (<c>len</c>) a step may carry.</summary>
    public const ulong MaxDataLength = 1UL << 30;

    private const string SizeHint = "expected a size like \"4K\", \"2M\", 4096 or \"0x1000\"";
    private const string DataHint = "expected hex bytes like \"0xdeadbeef\", {\"fill\": \"0xaa\", \"len\": 4096} or {\"pattern\": 7, \"len\": 4096}";

    private static readonly string[] TopLevelProperties = ["$schema", "name", "description", "kernel", "components", "options", "host", "vms", "steps"];
    private static readonly string[] VmProperties = ["name", "memory", "protected", "backing", "thp"];
    private static readonly string[] StepProperties =
        ["op", "vm", "gpa", "hva", "pfn", "offset", "len", "size", "pages", "data", "shared", "to", "private", "flags", "advice", "mode", "consumed", "bit", "bufferGpa", "requester", "expect"];
    private static readonly string[] StateFields = ["hwpoison", "private", "hostMapped", "hwpoisonEntry", "huge", "owner", "lines", "ept", "pfn", "pte", "refcount", "mapcount"];
    private static readonly string[] StateBoolFields = ["hwpoison", "private", "hostMapped", "hwpoisonEntry", "huge", "ept"];

    private static readonly (string Name, BackingKind Value)[] Backings =
        [("anon", BackingKind.Anon), ("shmem", BackingKind.Shmem), ("hugetlb", BackingKind.Hugetlb), ("file", BackingKind.File), ("guest-memfd", BackingKind.GuestMemfd)];
    private static readonly (string Name, GupFlags Value)[] GupFlagNames =
        [("write", GupFlags.Write), ("hwpoison", GupFlags.HwPoison), ("allow-poisoned", GupFlags.AllowPoisoned), ("pin", GupFlags.Pin), ("fast", GupFlags.Fast)];
    private static readonly (string Name, OutcomeKind Value)[] OutcomeNames =
        [("ok", OutcomeKind.Ok), ("guest-mce", OutcomeKind.GuestMce), ("guest-killed", OutcomeKind.GuestKilled), ("host-panic", OutcomeKind.HostPanic), ("shutdown", OutcomeKind.Shutdown), ("not-run", OutcomeKind.NotRun)];
    private static readonly string[] OutcomeObjectKeys = ["ok", "sigbus", "errno", "kvm-exit", "killed", "state"];
    private static readonly string[] ToValues = ["private", "shared"];
    private static readonly string[] Advices = ["HWPOISON", "SOFT_OFFLINE", "DONTNEED", "HUGEPAGE", "NOHUGEPAGE"];
    private static readonly string[] Modes = ["PUNCH_HOLE", "KEEP_SIZE"];

    private static readonly ConditionalWeakTable<Scenario, JsonSourceMap> Maps = new();

    /// <summary>Reads and parses a scenario file; a missing or unreadable file is a <see cref="ScenarioException"/> too.</summary>
    public static Scenario ParseFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ScenarioException("no such file; check the path", new SourceLocation(path, 0, 0));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ScenarioException($"cannot read the file: {e.Message}", new SourceLocation(path, 0, 0));
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses scenario JSON text; <paramref name="file"/> is only used in locations.</summary>
    public static Scenario Parse(string json, string file) => Parse(Encoding.UTF8.GetBytes(json), file);

    /// <summary>Parses UTF-8 scenario JSON; <paramref name="file"/> is only used in locations.</summary>
    public static Scenario Parse(ReadOnlyMemory<byte> utf8, string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var (document, map) = JsonSourceMap.Parse(utf8, file);
        using (document)
        {
            var scenario = new Reader(map).ReadScenario(document.RootElement);
            Maps.AddOrUpdate(scenario, map);
            return scenario;
        }
    }

    /// <summary>
    /// Where the value at a JSON path (<c>$.components.policy</c>) stands in the file a scenario was parsed
    /// from; the file alone when unknown.
    /// </summary>
    public static SourceLocation LocationOf(Scenario scenario, string jsonPath)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return Maps.TryGetValue(scenario, out var map) ? map.ValueOf(jsonPath) : new SourceLocation(scenario.File, 0, 0);
    }

    /// <summary>Parses a size or address as written in a scenario string ("4K", "0x1000", "4096").</summary>
    public static bool TryParseSize(string text, out ulong value)
    {
        value = 0;
        var match = SizePattern().Match(text);
        if (!match.Success) return false;
        var digits = match.Groups[1].Value;
        var parsed = digits.StartsWith("0x", StringComparison.Ordinal)
            ? ulong.TryParse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!parsed) return false;
        var shift = match.Groups[2].Value switch { "K" => 10, "M" => 20, "G" => 30, "T" => 40, _ => 0 };
        if (shift > 0 && value > ulong.MaxValue >> shift) return false;
        value <<= shift;
        return true;
    }

    [GeneratedRegex(@"^(0x[0-9a-fA-F]+|[0-9]+)([KMGT])?$")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^0x([0-9a-fA-F]{2})+$")]
    private static partial Regex HexBytesPattern();

    [GeneratedRegex(@"^[0-9]+\.[0-9]+$")]
    private static partial Regex KernelPattern();

    [GeneratedRegex(@"^E[A-Z0-9]+$")]
    private static partial Regex ErrnoPattern();

    private readonly record struct Node(JsonElement Element, string Path)
    {
        public JsonValueKind Kind => Element.ValueKind;
        /// <summary>The property name, or for a list item the list's name.</summary>
        public string Name => NameOf(IsItem ? Path[..Path.LastIndexOf('[')] : Path);

        public bool IsItem => Path.EndsWith(']') && !Path.EndsWith("']", StringComparison.Ordinal);

        private static string NameOf(string path) => path.EndsWith("']", StringComparison.Ordinal)
            ? path[(path.LastIndexOf("['", StringComparison.Ordinal) + 2)..^2].Replace("\\'", "'", StringComparison.Ordinal)
            : path[(path.LastIndexOf('.') + 1)..];

        public Node? Get(string property) =>
            Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(property, out var value) ? new Node(value, JsonSourceMap.Child(Path, property)) : null;

        public IEnumerable<(string Name, Node Value)> Properties()
        {
            var path = Path;
            return Element.EnumerateObject().Select(p => (p.Name, new Node(p.Value, JsonSourceMap.Child(path, p.Name))));
        }

        public IEnumerable<Node> Items()
        {
            var path = Path;
            return Element.EnumerateArray().Select((item, i) => new Node(item, JsonSourceMap.Item(path, i)));
        }
    }

    private sealed class Reader(JsonSourceMap map)
    {
        public Scenario ReadScenario(JsonElement rootElement)
        {
            var root = new Node(rootElement, "$");
            if (root.Kind != JsonValueKind.Object)
                throw Fail(root, $"a scenario is one JSON object like {{\"name\": \"...\", \"steps\": [...]}}, not {Describe(root)}");
            CheckProperties(root, TopLevelProperties, "top-level property");

            var name = NonEmptyString(Required(root, "name", "the scenario"));
            var description = root.Get("description") is { } descriptionNode ? String(descriptionNode) : null;
            var kernel = root.Get("kernel") is { } kernelNode ? Kernel(kernelNode) : KernelVersion.Default;
            var components = root.Get("components") is { } componentsNode ? Components(componentsNode) : [];
            var options = new Dictionary<string, (JsonElement Value, SourceLocation Location)>(StringComparer.Ordinal);
            if (root.Get("options") is { } optionsNode)
            {
                ExpectObject(optionsNode, "{\"linux.earlyKill\": false}");
                Options(optionsNode, "", options);
            }
            ulong? hostMemory = null;
            if (root.Get("host") is { } host)
            {
                ExpectObject(host, "{\"memory\": \"256M\"}");
                CheckProperties(host, ["memory"], "host property");
                if (host.Get("memory") is { } memory) hostMemory = Size(memory);
            }
            var vms = root.Get("vms") is { } vmsNode ? Vms(vmsNode) : [];
            var stepsNode = Required(root, "steps", "the scenario");
            ExpectArray(stepsNode, "a list of steps like [{\"op\": \"host.read\", ...}]");
            var steps = stepsNode.Items().Select((step, index) => Step(step, index, vms)).ToList();

            return new Scenario
            {
                File = map.File,
                Name = name,
                Description = description,
                Kernel = kernel,
                Components = components,
                Options = options,
                HostMemory = hostMemory,
                Vms = vms,
                Steps = steps,
            };
        }

        private KernelVersion Kernel(Node node)
        {
            var text = node.Kind == JsonValueKind.String ? node.Element.GetString()! : "";
            if (!KernelPattern().IsMatch(text) || !KernelVersion.TryParse(text, out var version))
                throw Fail(node, $"expected a kernel version like \"5.16\" or \"6.11\", not {Describe(node)}");
            return version;
        }

        private Dictionary<ComponentKind, string> Components(Node node)
        {
            ExpectObject(node, "{\"memory\": \"plain\", \"policy\": \"none\"}");
            var result = new Dictionary<ComponentKind, string>();
            foreach (var (name, value) in node.Properties())
            {
                if (!ComponentKinds.TryParse(name, out var kind))
                    throw FailAtName(value, $"unknown component kind \"{name}\"; use one of: {string.Join(", ", Enum.GetValues<ComponentKind>().Select(k => k.Key()))}");
                result[kind] = NonEmptyString(value);
            }
            return result;
        }

        /// <summary>Flattens nested sections: {"linux": {"earlyKill": false}} is "linux.earlyKill".</summary>
        private void Options(Node node, string prefix, Dictionary<string, (JsonElement Value, SourceLocation Location)> into)
        {
            foreach (var (name, value) in node.Properties())
            {
                var key = prefix + name;
                if (value.Kind == JsonValueKind.Object)
                {
                    Options(value, key + ".", into);
                    continue;
                }
                if (!key.Contains('.', StringComparison.Ordinal) || key.StartsWith('.') || key.EndsWith('.'))
                    throw FailAtName(value, $"option \"{key}\" needs a component: write \"<component>.<option>\", for example \"linux.earlyKill\"");
                if (into.ContainsKey(key))
                    throw FailAtName(value, $"option \"{key}\" is given twice; keep only one");
                into[key] = (value.Element.Clone(), map.NameOf(value.Path));
            }
        }

        private List<VmSpec> Vms(Node node)
        {
            ExpectArray(node, "a list of VMs like [{\"name\": \"vm1\", \"memory\": \"64M\"}]");
            var vms = new List<VmSpec>();
            foreach (var vm in node.Items())
            {
                ExpectObject(vm, "{\"name\": \"vm1\", \"memory\": \"64M\"}");
                CheckProperties(vm, VmProperties, "VM property");
                var nameNode = Required(vm, "name", "a VM");
                var name = NonEmptyString(nameNode);
                if (vms.Any(v => v.Name == name))
                    throw Fail(nameNode, $"two VMs are named \"{name}\"; give each VM its own name");
                var memory = Size(Required(vm, "memory", $"VM \"{name}\""));
                var isProtected = vm.Get("protected") is { } protectedNode && Bool(protectedNode);
                var backing = vm.Get("backing") is { } backingNode ? OneOf(backingNode, Backings) : BackingKind.Shmem;
                var thp = vm.Get("thp") is { } thpNode && Bool(thpNode);
                vms.Add(new VmSpec(name, memory, isProtected, backing, thp, Location(vm)));
            }
            return vms;
        }

        private StepSpec Step(Node step, int index, List<VmSpec> vms)
        {
            ExpectObject(step, "{\"op\": \"host.read\", \"vm\": \"vm1\", \"gpa\": \"0x1000\", \"len\": 4}");
            var opNode = Required(step, "op", "a step");
            var op = String(opNode);
            if (!Ops.Contains(op))
                throw Fail(opNode, $"unknown op \"{op}\"; use one of: {string.Join(", ", Ops)}");
            CheckProperties(step, StepProperties, $"property of step {index} ({op})");

            string? vm = null;
            if (step.Get("vm") is { } vmNode)
            {
                vm = String(vmNode);
                if (!vms.Any(v => v.Name == vm))
                    throw Fail(vmNode, vms.Count == 0
                        ? $"no VM named \"{vm}\": the scenario declares no VMs; add one under \"vms\""
                        : $"no VM named \"{vm}\"; the scenario's VMs: {string.Join(", ", vms.Select(v => v.Name))}");
            }

            return new StepSpec
            {
                Index = index,
                Op = op,
                Location = Location(step),
                Vm = vm,
                Gpa = OptionalSize(step, "gpa"),
                Hva = OptionalSize(step, "hva"),
                Pfn = OptionalSize(step, "pfn"),
                Offset = OptionalSize(step, "offset"),
                Len = OptionalSize(step, "len"),
                Size = OptionalSize(step, "size"),
                Pages = step.Get("pages") is { } pages ? (int)Integer(pages, 1, int.MaxValue) : null,
                Data = step.Get("data") is { } data ? Data(data) : null,
                Shared = step.Get("shared") is { } shared ? Bool(shared) : null,
                To = step.Get("to") is { } to ? OneOf(to, ToValues.Select(v => (v, v)).ToArray()) : null,
                Private = step.Get("private") is { } isPrivate ? Bool(isPrivate) : null,
                Flags = step.Get("flags") is { } flags ? Flags(flags) : GupFlags.None,
                Advice = step.Get("advice") is { } advice ? OneOf(advice, Advices.Select(v => (v, v)).ToArray()) : null,
                Mode = step.Get("mode") is { } mode ? Mode(mode) : [],
                Consumed = step.Get("consumed") is { } consumed ? Bool(consumed) : null,
                Bit = step.Get("bit") is { } bit ? (int)Integer(bit, 0, 511) : null,
                BufferGpa = OptionalSize(step, "bufferGpa"),
                Requester = step.Get("requester") is { } requester ? OneOf(requester, [("kernel", "kernel"), ("seam", "seam"), ("kvm", "kvm")]) : null,
                Expect = step.Get("expect") is { } expect ? Expectation(expect) : null,
            };
        }

        private GupFlags Flags(Node node)
        {
            ExpectArray(node, "a list like [\"write\", \"pin\"]");
            var flags = GupFlags.None;
            foreach (var item in node.Items()) flags |= OneOf(item, GupFlagNames);
            return flags;
        }

        private List<string> Mode(Node node)
        {
            ExpectArray(node, "a list like [\"PUNCH_HOLE\", \"KEEP_SIZE\"]");
            return node.Items().Select(item => OneOf(item, Modes.Select(v => (v, v)).ToArray())).ToList();
        }

        private Expectation Expectation(Node node)
        {
            var json = node.Element.Clone();
            if (node.Kind == JsonValueKind.String)
                return new Expectation { Kind = OneOf(node, OutcomeNames, ", or an object with one of: " + string.Join(", ", OutcomeObjectKeys), "outcome"), Json = json };
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"expected an outcome: one of {string.Join(", ", OutcomeNames.Select(n => '"' + n.Name + '"'))}, or an object with one of: {string.Join(", ", OutcomeObjectKeys)}; not {Describe(node)}");

            if (node.Get("ok") is { } ok)
            {
                CheckProperties(node, ["ok"], "key of an ok outcome");
                ExpectObject(ok, "{\"data\": \"0x00\"} or {\"count\": 1} or {}");
                CheckProperties(ok, ["data", "count"], "field of an ok outcome");
                return new Expectation
                {
                    Kind = OutcomeKind.Ok,
                    Data = ok.Get("data") is { } data ? Data(data) : null,
                    Count = ok.Get("count") is { } count ? Integer(count, 0, long.MaxValue) : null,
                    Json = json,
                };
            }
            if (node.Get("sigbus") is { } sigbus)
            {
                CheckProperties(node, ["sigbus"], "key of a sigbus outcome");
                ExpectObject(sigbus, "{\"code\": \"BUS_MCEERR_AR\", \"lsb\": 12}");
                CheckProperties(sigbus, ["code", "lsb"], "field of a sigbus outcome");
                var codes = Enum.GetValues<SigBusCode>().Select(c => (c.ToString(), c)).ToArray();
                return new Expectation
                {
                    Kind = OutcomeKind.SigBus,
                    SigBusCode = OneOf(Required(sigbus, "code", "a sigbus outcome"), codes),
                    Lsb = sigbus.Get("lsb") is { } lsb ? (int)Integer(lsb, 0, 63) : null,
                    Json = json,
                };
            }
            if (node.Get("kvm-exit") is { } exit)
            {
                CheckProperties(node, ["kvm-exit", "errno"], "key of a kvm-exit outcome");
                ExpectObject(exit, "{\"reason\": \"MEMORY_FAULT\", \"flags\": [\"PRIVATE\"], \"gpa\": \"0x1000\", \"size\": \"4K\"}");
                CheckProperties(exit, ["reason", "flags", "gpa", "size"], "field of a kvm-exit outcome");
                List<string>? exitFlags = null;
                if (exit.Get("flags") is { } flagsNode)
                {
                    ExpectArray(flagsNode, "a list like [\"PRIVATE\"]");
                    exitFlags = flagsNode.Items().Select(NonEmptyString).ToList();
                }
                return new Expectation
                {
                    Kind = OutcomeKind.KvmExit,
                    ExitReason = NonEmptyString(Required(exit, "reason", "a kvm-exit outcome")),
                    ExitFlags = exitFlags,
                    ExitGpa = OptionalSize(exit, "gpa"),
                    ExitSize = OptionalSize(exit, "size"),
                    Errno = node.Get("errno") is { } exitErrno ? Errno(exitErrno) : null,
                    Json = json,
                };
            }
            if (node.Get("errno") is { } errno)
            {
                CheckProperties(node, ["errno"], "key of an errno outcome");
                return new Expectation { Kind = OutcomeKind.Errno, Errno = Errno(errno), Json = json };
            }
            if (node.Get("killed") is { } killed)
            {
                CheckProperties(node, ["killed"], "key of a killed outcome");
                return new Expectation { Kind = OutcomeKind.Killed, Signal = NonEmptyString(killed), Json = json };
            }
            if (node.Get("state") is { } state)
            {
                CheckProperties(node, ["state"], "key of a state outcome");
                return new Expectation { Kind = OutcomeKind.State, State = State(state), Json = json };
            }
            var first = node.Properties().FirstOrDefault();
            if (first.Name is null)
                throw Fail(node, $"an outcome object needs one of: {string.Join(", ", OutcomeObjectKeys)}");
            throw FailAtName(first.Value, $"unknown outcome \"{first.Name}\"; use one of: {string.Join(", ", OutcomeObjectKeys)}");
        }

        private Dictionary<string, JsonElement> State(Node node)
        {
            ExpectObject(node, "{\"hwpoison\": true, \"owner\": \"td1\"}");
            CheckProperties(node, StateFields, "state field");
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var (name, value) in node.Properties())
            {
                if (StateBoolFields.Contains(name))
                    Bool(value);
                else if (name is "owner" or "pfn" or "pte")
                {
                    if (value.Kind is not (JsonValueKind.String or JsonValueKind.Null))
                        throw Fail(value, $"\"{name}\" is a string or null, not {Describe(value)}");
                }
                else if (name is "refcount" or "mapcount")
                {
                    Integer(value, 0, int.MaxValue);
                }
                else
                {
                    ExpectObject(value, "{\"poisoned\": 1}");
                    CheckProperties(value, ["poisoned"], "field of \"lines\"");
                    if (value.Get("poisoned") is { } poisoned) Integer(poisoned, 0, PageGeometry.LinesPerPage);
                }
                fields[name] = value.Element.Clone();
            }
            return fields;
        }

        private Errno Errno(Node node)
        {
            var text = String(node);
            if (!ErrnoPattern().IsMatch(text) || !Enum.TryParse<Errno>(text, ignoreCase: false, out var errno) || !Enum.IsDefined(errno))
                throw Fail(node, $"unknown errno \"{text}\"; use one of: {string.Join(", ", Enum.GetNames<Errno>())}");
            return errno;
        }

        private byte[] Data(Node node)
        {
            if (node.Kind == JsonValueKind.String)
            {
                var text = node.Element.GetString()!;
                if (!HexBytesPattern().IsMatch(text))
                    throw Fail(node, $"{DataHint} (an even number of hex digits after 0x), not {Describe(node)}");
                return Convert.FromHexString(text.AsSpan(2));
            }
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"{DataHint}, not {Describe(node)}");
            if (node.Get("fill") is { } fill)
            {
                CheckProperties(node, ["fill", "len"], "field of fill data");
                var fillText = String(fill);
                if (!HexBytesPattern().IsMatch(fillText))
                    throw Fail(fill, $"\"fill\" is hex bytes like \"0xaa\", not {Describe(fill)}");
                var unit = Convert.FromHexString(fillText.AsSpan(2));
                var bytes = new byte[DataLength(Required(node, "len", "fill data"))];
                for (var i = 0; i < bytes.Length; i++) bytes[i] = unit[i % unit.Length];
                return bytes;
            }
            if (node.Get("pattern") is { } pattern)
            {
                CheckProperties(node, ["pattern", "len"], "field of pattern data");
                if (pattern.Kind != JsonValueKind.Number || !pattern.Element.TryGetInt64(out var seed))
                    throw Fail(pattern, $"\"pattern\" is an integer seed like 7, not {Describe(pattern)}");
                return PatternBytes.Generate(seed, DataLength(Required(node, "len", "pattern data")));
            }
            throw Fail(node, DataHint);
        }

        private int DataLength(Node node)
        {
            var length = Size(node);
            if (length > MaxDataLength)
                throw Fail(node, $"data longer than {MaxDataLength >> 20}M is not supported; use a smaller \"len\"");
            return (int)length;
        }

        private ulong? OptionalSize(Node owner, string property) => owner.Get(property) is { } node ? Size(node) : null;

        private ulong Size(Node node)
        {
            switch (node.Kind)
            {
                case JsonValueKind.Number when node.Element.TryGetUInt64(out var number):
                    return number;
                case JsonValueKind.String when TryParseSize(node.Element.GetString()!, out var size):
                    return size;
                default:
                    throw Fail(node, $"{SizeHint} for \"{node.Name}\", not {Describe(node)}");
            }
        }

        private long Integer(Node node, long min, long max)
        {
            if (node.Kind != JsonValueKind.Number || !node.Element.TryGetInt64(out var value))
                throw Fail(node, $"\"{node.Name}\" is an integer, not {Describe(node)}");
            if (value < min || value > max)
                throw Fail(node, max == long.MaxValue || max == int.MaxValue
                    ? $"\"{node.Name}\" must be at least {min}, not {value}"
                    : $"\"{node.Name}\" must be between {min} and {max}, not {value}");
            return value;
        }

        private bool Bool(Node node) => node.Kind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Fail(node, $"\"{node.Name}\" is true or false, not {Describe(node)}"),
        };

        private string String(Node node) =>
            node.Kind == JsonValueKind.String ? node.Element.GetString()! : throw Fail(node, $"\"{node.Name}\" is a string, not {Describe(node)}");

        private string NonEmptyString(Node node)
        {
            var text = String(node);
            return text.Length > 0 ? text : throw Fail(node, $"\"{node.Name}\" must not be empty");
        }

        private T OneOf<T>(Node node, (string Name, T Value)[] choices, string extra = "", string? label = null)
        {
            label ??= node.Name;
            var list = string.Join(", ", choices.Select(c => c.Name));
            if (node.Kind != JsonValueKind.String)
                throw Fail(node, $"expected {label} as one of: {list}{extra}; not {Describe(node)}");
            var text = node.Element.GetString()!;
            foreach (var (name, value) in choices)
                if (name == text) return value;
            throw Fail(node, $"unknown {label} \"{text}\"; use one of: {list}{extra}");
        }

        private Node Required(Node owner, string property, string what) =>
            owner.Get(property) ?? throw Fail(owner, $"{what} needs \"{property}\"");

        private void ExpectObject(Node node, string example)
        {
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"{(node.IsItem ? "each item of " : "")}\"{node.Name}\" is an object like {example}, not {Describe(node)}");
        }

        private void ExpectArray(Node node, string example)
        {
            if (node.Kind != JsonValueKind.Array)
                throw Fail(node, $"\"{node.Name}\" is {example}, not {Describe(node)}");
        }

        private void CheckProperties(Node node, string[] allowed, string what)
        {
            foreach (var (name, value) in node.Properties())
                if (!allowed.Contains(name))
                    throw FailAtName(value, $"unknown {what} \"{name}\"; use one of: {string.Join(", ", allowed)}");
        }

        private SourceLocation Location(Node node) => map.ValueOf(node.Path);

        private ScenarioException Fail(Node node, string message) => new(message, map.ValueOf(node.Path));

        private ScenarioException FailAtName(Node node, string message) => new(message, map.NameOf(node.Path));

        private static string Describe(Node node)
        {
            var raw = node.Element.GetRawText();
            if (raw.Length > 40) raw = raw[..37] + "...";
            return node.Kind switch
            {
                JsonValueKind.Object => "an object",
                JsonValueKind.Array => "a list",
                _ => raw,
            };
        }
    }
}
